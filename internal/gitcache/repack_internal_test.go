package gitcache

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/testenv"
)

func TestRepackBoundsPackCount(t *testing.T) {
	dir, _ := testenv.GitRepo(t, map[string]string{"f0.txt": "0\n"})
	url := testenv.GitHTTPServer(t, filepath.Dir(dir)) + "/" + filepath.Base(dir)
	c := New(t.TempDir(), Options{})
	t.Cleanup(func() { c.Close() })
	c.maxPacks = 3
	ctx := context.Background()
	var shas []string
	for i := range 8 {
		sha := testenv.GitCommit(t, dir, map[string]string{fmt.Sprintf("f%d.txt", i+1): fmt.Sprintf("%d\n", i+1)}, fmt.Sprintf("commit %d", i+1))
		shas = append(shas, sha)
		got, err := c.Resolve(ctx, url, Auth{}, "main")
		if err != nil || got.SHA != sha {
			t.Fatalf("Resolve %d: got %+v, %v; want %s", i, got, err, sha)
		}
		packs, _ := filepath.Glob(filepath.Join(c.RepoDir(url), "objects", "pack", "*.pack"))
		t.Logf("after fetch %d: %d packs", i, len(packs))
		if len(packs) > c.maxPacks+1 {
			t.Fatalf("after fetch %d: got %d packs, want at most %d", i, len(packs), c.maxPacks+1)
		}
	}
	// Every commit is still readable from the repacked clone.
	for i, sha := range shas {
		dst := filepath.Join(t.TempDir(), "w")
		if _, err := c.Checkout(ctx, url, Auth{}, sha, "", dst); err != nil {
			t.Errorf("Checkout commit %d after repacks: %v", i+1, err)
		}
	}
}
