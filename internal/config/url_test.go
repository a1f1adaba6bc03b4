package config

import "testing"

// TestClassifyURLSchemes covers the schemes the git cache fetches beside
// those of TestClassifyURL.
func TestClassifyURLSchemes(t *testing.T) {
	tests := []struct {
		url  string
		want URLKind
	}{
		{"git://example.com/acme/x.git", URLGit},
		{"git+ssh://git@example.com/acme/x.git", URLSSH},
		{"ssh+git://example.com/acme/x.git", URLSSH},
		{"HTTPS://example.com/acme/x.git", URLHTTP},
		{"https:///nohost", URLInvalid},
		{"git://", URLInvalid},
		{"host:path", URLSSH},
		{"config", URLInvalid},
		{"./config", URLLocal},
	}
	for _, tt := range tests {
		if got := ClassifyURL(tt.url); got != tt.want {
			t.Errorf("ClassifyURL(%q): got %v, want %v", tt.url, got, tt.want)
		}
	}
}
