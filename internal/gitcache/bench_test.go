package gitcache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

// BenchmarkCheckoutCached measures the hot path: a commit the cache holds,
// 50 files, checked out with no network call.
func BenchmarkCheckoutCached(b *testing.B) {
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("dir%d/file%02d.yml", i%5, i)] = fmt.Sprintf("- name: task %d\n  debug: msg=%d\n", i, i)
	}
	dir, sha := testenv.GitRepo(b, files)
	url := testenv.GitHTTPServer(b, filepath.Dir(dir)) + "/" + filepath.Base(dir)
	c := gitcache.New(b.TempDir(), gitcache.Options{})
	ctx := context.Background()
	work := b.TempDir()
	if _, err := c.Checkout(ctx, url, gitcache.Auth{}, sha, "", filepath.Join(work, "warm")); err != nil {
		b.Fatalf("warm-up Checkout: %v", err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dst := filepath.Join(work, fmt.Sprint(i))
		if _, err := c.Checkout(ctx, url, gitcache.Auth{}, sha, "", dst); err != nil {
			b.Fatalf("Checkout: %v", err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkWriteFilesBaseline writes the same 50 files with os.WriteFile:
// the floor the file system sets under BenchmarkCheckoutCached.
func BenchmarkWriteFilesBaseline(b *testing.B) {
	work := b.TempDir()
	for i := 0; b.Loop(); i++ {
		dst := filepath.Join(work, fmt.Sprint(i))
		for j := range 50 {
			p := filepath.Join(dst, fmt.Sprintf("dir%d", j%5), fmt.Sprintf("file%02d.yml", j))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, fmt.Appendf(nil, "- name: task %d\n  debug: msg=%d\n", j, j), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
