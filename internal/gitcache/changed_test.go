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
	t.Run("pull request head from a fork", func(t *testing.T) {
		// A commit on no branch, published as GitHub publishes a fork's head.
		testenv.Git(t, s.dir, "checkout", "--quiet", "--detach", first)
		forkHead := testenv.GitCommit(t, s.dir, map[string]string{"fork.txt": "from a fork"}, "fork")
		testenv.Git(t, s.dir, "update-ref", "refs/pull/7/head", forkHead)
		testenv.Git(t, s.dir, "checkout", "--quiet", "main")
		got, err := c.ChangedPaths(ctx, s.url, gitcache.Auth{}, "main", forkHead)
		if err != nil || !slices.Equal(got, []string{"fork.txt"}) {
			t.Errorf("got %v, %v", got, err)
		}
		dst := t.TempDir() + "/co"
		if _, err := c.Checkout(ctx, s.url, gitcache.Auth{}, forkHead, "", dst); err != nil {
			t.Errorf("checkout of the fork head: %v", err)
		}
	})
	t.Run("unknown commit", func(t *testing.T) {
		_, err := c.ChangedPaths(ctx, s.url, gitcache.Auth{}, first, strings.Repeat("ab", 20))
		if !errors.Is(err, gitcache.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}
