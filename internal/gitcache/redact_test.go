package gitcache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/gitcache"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:pa55@example.com/org/repo.git", "https://example.com/org/repo.git"},
		{"https://x-access-token:ghp_abc@github.com/o/r", "https://github.com/o/r"},
		{"https://token@gitlab.com/o/r.git", "https://gitlab.com/o/r.git"},
		{"https://example.com/o/r.git", "https://example.com/o/r.git"},
		{"ssh://git:pw@example.com:2222/o/r.git", "ssh://example.com:2222/o/r.git"},
		{"git@github.com:o/r.git", "github.com:o/r.git"},
		{"github.com:o/r.git", "github.com:o/r.git"},
		{"/srv/git/repo", "/srv/git/repo"},
		{"file:///srv/git/repo", "file:///srv/git/repo"},
		{"https://us er:p%zz@host/x", "https://host/x"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := gitcache.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRepoDirIgnoresCredentials(t *testing.T) {
	c := gitcache.New(t.TempDir(), gitcache.Options{})
	a := c.RepoDir("https://alice:one@example.com/o/r.git")
	b := c.RepoDir("https://bob:two@example.com/o/r.git")
	if a != b {
		t.Errorf("RepoDir differs by credentials: got %q and %q, want one directory", a, b)
	}
	if other := c.RepoDir("https://example.com/o/other.git"); other == a {
		t.Errorf("RepoDir of two repositories: got %q twice, want distinct", a)
	}
	if strings.Contains(a, "alice") || strings.Contains(a, "one") {
		t.Errorf("RepoDir %q carries credentials", a)
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "plain error", err: errors.New("x"), want: false},
		{name: "deadline", err: contextDeadline(), want: true},
		{name: "gitcache transient", err: &gitcache.Error{Op: "fetch", Transient: true}, want: true},
		{name: "gitcache permanent", err: &gitcache.Error{Op: "fetch"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gitcache.IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func contextDeadline() error {
	return fmt.Errorf("wrapped: %w", context.DeadlineExceeded)
}
