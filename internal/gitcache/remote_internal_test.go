package gitcache

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRemote(t *testing.T) {
	tests := []struct {
		raw        string
		kind       remoteKind
		fetchURL   string
		redacted   string
		user, pass string
		wantErr    error
	}{
		{raw: "https://u:p4ss@example.com/o/r.git", kind: kindHTTP, fetchURL: "https://example.com/o/r.git", redacted: "https://example.com/o/r.git", user: "u", pass: "p4ss"},
		{raw: "http://example.com:8080/r", kind: kindHTTP, fetchURL: "http://example.com:8080/r", redacted: "http://example.com:8080/r"},
		{raw: "ssh://deploy:pw@example.com:2222/srv/r.git", kind: kindSSH, fetchURL: "ssh://deploy@example.com:2222/srv/r.git", redacted: "ssh://example.com:2222/srv/r.git", user: "deploy", pass: "pw"},
		{raw: "git@github.com:o/r.git", kind: kindSSH, fetchURL: "git@github.com:o/r.git", redacted: "github.com:o/r.git", user: "git"},
		{raw: "github.com:o/r.git", kind: kindSSH, fetchURL: "git@github.com:o/r.git", redacted: "github.com:o/r.git"},
		{raw: "/srv/git/r/", kind: kindLocal, fetchURL: "/srv/git/r", redacted: "/srv/git/r"},
		{raw: "file:///srv/git/r", kind: kindLocal, fetchURL: "/srv/git/r", redacted: "file:///srv/git/r"},
		{raw: "file://relative/r", wantErr: ErrInvalid},
		{raw: "repos/r", wantErr: ErrInvalid},
		{raw: "./r", wantErr: ErrInvalid},
		{raw: "", wantErr: ErrInvalid},
		{raw: "ftp://example.com/r", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			r, err := parseRemote(tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %+v, %v; want error %v", r, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRemote: %v", err)
			}
			if r.kind != tt.kind || r.fetchURL != tt.fetchURL || r.redacted != tt.redacted || r.urlUser != tt.user || r.urlPassword != tt.pass {
				t.Errorf("got kind %v fetch %q redacted %q user %q pass %q, want %v %q %q %q %q",
					r.kind, r.fetchURL, r.redacted, r.urlUser, r.urlPassword, tt.kind, tt.fetchURL, tt.redacted, tt.user, tt.pass)
			}
			if tt.pass != "" && strings.Contains(r.fetchURL, tt.pass) {
				t.Errorf("fetch URL %q carries the password", r.fetchURL)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	s := scrubber{"hunter22", "", "ab"}
	got := s.scrub(`Get "https://bob:hunter22@host/x": refused hunter22 ab`)
	if strings.Contains(got, "hunter22") || strings.Contains(got, "bob") {
		t.Errorf("scrub: got %q, want no password and no user info", got)
	}
	if !strings.Contains(got, "https://host/x") {
		t.Errorf("scrub: got %q, want the redacted URL kept", got)
	}
}
