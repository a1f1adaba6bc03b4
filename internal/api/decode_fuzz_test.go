package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeCreateTaskRequest feeds arbitrary bodies to the decoding of a
// task request. Whatever arrives, the answer is a 400 or a request; an
// accepted body was valid UTF-8 JSON, its vars check answers nothing but
// 413, and the request survives a round trip through JSON unchanged.
func FuzzDecodeCreateTaskRequest(f *testing.F) {
	for _, seed := range []string{
		``,
		`{}`,
		`null`,
		`{"commit":"0123abc","branch":"main","vars":{"n":12345678901234567890,"s":"x","l":[1,2],"o":{"a":null}},"arguments":["-v"],"limit":"web1","tags":["a"],"skip_tags":["b"],"workspace":"prod","dry_run":true}`,
		`{"comit":"x"}`,
		`{"vars":[1]}`,
		`{} {}`,
		`{"vars":{"s":"\ud83d\ude00 \u00e9 \\ud800"}}`,
		`{"vars":{"s":"\ud800"}}`,
		"{\"vars\":{\"s\":\"caf\xe9\"}}",
		`{"vars":{"deep":[[[[[[[[[[{}]]]]]]]]]]}}`,
		`{"dry_run":"yes"}`,
		`{"vars":{"n":1e400}}`,
		` [ ] `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req CreateTaskRequest
		err := decodeJSON(body, &req)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest {
				t.Fatalf("refused with %v, want a 400", err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8: %q", body)
		}
		if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON: %q", body)
		}
		if err := checkVarsSize(req.Vars); err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("vars check: %v, want nil or a 413", err)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode an accepted request: %v", err)
		}
		var req2 CreateTaskRequest
		if err := decodeJSON(again, &req2); err != nil {
			t.Fatalf("decode the re-encoded request %s: %v", again, err)
		}
		if third, _ := json.Marshal(req2); !bytes.Equal(again, third) {
			t.Fatalf("round trip changed the request: %s, then %s", again, third)
		}
	})
}
