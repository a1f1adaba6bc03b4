package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/api"
)

// TestCreateTaskDecoding covers what a task request's body must be: JSON
// declared as such, valid UTF-8 (not silently replaced), and vars within
// MaxVarsBytes.
func TestCreateTaskDecoding(t *testing.T) {
	f := newFixture(t)
	const path = "/api/v1/projects/web/templates/deploy/tasks"
	varsOf := func(size int) string {
		return `{"vars":{"blob":"` + strings.Repeat("v", size-len(`{"blob":""}`)) + `"}}`
	}
	tests := []struct {
		name, contentType, body string
		want                    int
		wantMsg                 string
	}{
		{"JSON", "application/json", `{"commit":"abc"}`, 201, ""},
		{"JSON with a charset", "application/json; charset=utf-8", `{"commit":"abc"}`, 201, ""},
		{"no body, no Content-Type", "", "", 201, ""},
		{"no Content-Type", "", `{"commit":"abc"}`, 415, "Content-Type"},
		{"form", "application/x-www-form-urlencoded", `commit=abc`, 415, "application/json"},
		{"text", "text/plain", `{"commit":"abc"}`, 415, "application/json"},
		{"bad media type", "application/json;;", `{}`, 415, "application/json"},
		{"invalid UTF-8 in a string", "application/json", "{\"vars\":{\"s\":\"caf\xe9\"}}", 400, "UTF-8"},
		{"invalid UTF-8 in a key", "application/json", "{\"vars\":{\"\xff\":1}}", 400, "UTF-8"},
		{"lone high surrogate", "application/json", `{"vars":{"s":"\ud800"}}`, 400, "surrogate"},
		{"lone low surrogate", "application/json", `{"vars":{"s":"\udc00x"}}`, 400, "surrogate"},
		{"surrogate pair", "application/json", `{"vars":{"s":"\ud83d\ude00"}}`, 201, ""},
		{"escaped backslash then u", "application/json", `{"vars":{"s":"\\ud800"}}`, 201, ""},
		{"vars at the limit", "application/json", varsOf(api.MaxVarsBytes), 201, ""},
		{"vars over the limit", "application/json", varsOf(api.MaxVarsBytes + 1), 413, "vars"},
		{"body over the limit", "application/json", `{"commit":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, 413, "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", path, strings.NewReader(tt.body))
			if tt.body == "" {
				req = httptest.NewRequest("POST", path, nil)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+runToken)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.want >= 400 {
				if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("message: got %q, want it to hold %q", msg, tt.wantMsg)
				}
			}
		})
	}
}
