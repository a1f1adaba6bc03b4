package webhook

import (
	"net/http"
	"testing"
)

// TestUnknownHookPathIsJSON checks that a path under /hooks/ that no
// forge or integration serves is a JSON 404 like every other answer.
func TestUnknownHookPathIsJSON(t *testing.T) {
	h := newHarness(t, loadConfig(t, map[string]string{"web.yaml": webConfig}), nil)
	for _, path := range []string{"/hooks/", "/hooks/bitbucket", "/hooks/integrations/web", "/hooks/github/x"} {
		// post fails the test when the answer is not JSON.
		if r := h.post(path, nil, []byte("{}")); r.code != http.StatusNotFound || r.answer.Error == "" {
			t.Errorf("POST %s: got %d %+v, want a JSON 404", path, r.code, r.answer)
		}
	}
}
