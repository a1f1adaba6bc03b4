package gitcache_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

func TestChangedPaths(t *testing.T) {
	s, first := serveRepo(t, sampleFiles)
	c := newCache(t, time.Minute)
	ctx := context.Background()
	// 25 commits on main, each touching one file: more than any payload lists.
	var last string
	for i := range 25 {
		name := "roles/web/tasks.yml"
		if i == 3 {
			name = "docs/notes.md"
		}
		last = testenv.GitCommit(t, s.dir, map[string]string{name: strings.Repeat("x", i+1)}, "commit")
	}
	testenv.Git(t, s.dir, "checkout", "--quiet", "-b", "feature", first)
	feature := testenv.GitCommit(t, s.dir, map[string]string{"network/vpc.tf": "x"}, "feature")
	testenv.Git(t, s.dir, "rm", "--quiet", "README.md")
	testenv.Git(t, s.dir, "commit", "--quiet", "-m", "rm")
	feature2 := testenv.Git(t, s.dir, "rev-parse", "HEAD")
	testenv.Git(t, s.dir, "checkout", "--quiet", "main")

	tests := []struct {
		name, from, to string
		want           []string
	}{
		{"push of 25 commits", first, last, []string{"docs/notes.md", "roles/web/tasks.yml"}},
		{"pull request against a moved base branch", "main", feature2, []string{"README.md", "network/vpc.tf"}},
		{"pull request by base sha", last, feature, []string{"network/vpc.tf"}},
		{"nothing", last, last, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ChangedPaths(ctx, s.url, gitcache.Auth{}, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("local repository", func(t *testing.T) {
		got, err := c.ChangedPaths(ctx, s.dir, gitcache.Auth{}, first, last)
		if err != nil || !slices.Equal(got, []string{"docs/notes.md", "roles/web/tasks.yml"}) {
			t.Errorf("got %v, %v", got, err)
		}
	})
	t.Run("unknown commit", func(t *testing.T) {
		_, err := c.ChangedPaths(ctx, s.url, gitcache.Auth{}, first, strings.Repeat("ab", 20))
		if !errors.Is(err, gitcache.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}
