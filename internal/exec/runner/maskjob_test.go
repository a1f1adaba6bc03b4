package runner

import (
	"strings"
	"testing"
)

// TestMaskingJobPrintsItsVars runs jobs that print their own vars file and
// re-encode the secret as common tools do; no form of it may reach the
// log. The secret holds every character that JSON or URL encoders write
// differently.
func TestMaskingJobPrintsItsVars(t *testing.T) {
	secret := "p&ss<w>rd \"q\" back\\slash/tab\there\x01é!*'()~"
	spec := bashSpec(t, `
cat "$SEMAPHORED_VARS_FILE"; echo
python3 - <<'PY'
import json, os, urllib.parse
v = json.load(open(os.environ["SEMAPHORED_VARS_FILE"]))
s = v["db"]["password"]
print("dumps", json.dumps(v), flush=True)
print("dumps-utf8", json.dumps(v, ensure_ascii=False), flush=True)
print("quote", urllib.parse.quote(s), flush=True)
print("qplus", urllib.parse.quote_plus(s, safe="/"), flush=True)
print("quote-lower", urllib.parse.quote(s, safe="").lower(), flush=True)
print("dsn", "postgres://app:" + urllib.parse.quote(s, safe="") + "@db/app", flush=True)
PY
`)
	spec.Vars = map[string]any{"db": map[string]any{"user": "app", "password": secret}, "note": "visible"}
	spec.Secrets = []string{secret}
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success; output %q", res, sink.Lines())
	}
	out := sink.output()
	if len(out) != 7 {
		t.Fatalf("got %d lines, want 7: %q", len(out), out)
	}
	for _, line := range out {
		if !strings.Contains(line, "***") {
			t.Errorf("line without a mask: %q", line)
		}
		// Any 4-byte run of the secret's letters left over means a form
		// was missed (the non-secret words are "visible", "app", "db").
		for _, piece := range []string{"p&ss", "ss<w", "rd ", "back", "slash", "here", "%26ss", "u0026ss", "ss%3C", "ss%3c"} {
			if strings.Contains(line, piece) {
				t.Errorf("line %q holds %q of the secret", line, piece)
			}
		}
	}
	if !strings.Contains(out[0], `"note":"visible"`) || !strings.Contains(out[0], `"password":"***"`) {
		t.Errorf("vars file line: got %q, want the password masked and the rest kept", out[0])
	}
}
