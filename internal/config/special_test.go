package config

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// loadWithin runs Load and fails the test when it does not return within
// d: a FIFO opened for reading blocks until a writer comes.
func loadWithin(t *testing.T, d time.Duration, load func() (*Config, error)) (*Config, error) {
	t.Helper()
	type result struct {
		c   *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := load()
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(d):
		t.Fatalf("Load did not return within %v (blocked opening a special file?)", d)
		return nil, nil
	}
}

func TestLoadRefusesSpecialFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"fifo", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644))
		}, "pipe.yaml: a named pipe (FIFO) is not a regular file; declarations must be regular files (or symlinks to one inside the tree); refusing to open it"},
		{"fifo in a subdirectory", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			must(t, syscall.Mkfifo(filepath.Join(dir, "sub", "p.yml"), 0o644))
		}, "sub/p.yml: a named pipe (FIFO) is not a regular file"},
		{"symlink to a fifo inside the tree", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
			must(t, os.Symlink("pipe", filepath.Join(dir, "link.yaml")))
		}, "link.yaml: a named pipe (FIFO) is not a regular file"},
		{"socket", func(t *testing.T, dir string) {
			l, err := net.Listen("unix", filepath.Join(dir, "s.yaml"))
			must(t, err)
			t.Cleanup(func() { l.Close() })
		}, "s.yaml: a socket is not a regular file"},
		{"character device", func(t *testing.T, dir string) {
			// /dev/null's numbers (1, 3); mknod needs CAP_MKNOD.
			if err := syscall.Mknod(filepath.Join(dir, "null.yaml"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}, "null.yaml: a character device is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(okFile), 0o644))
			tt.setup(t, dir)
			_, err := loadWithin(t, 5*time.Second, func() (*Config, error) { return Load(dir, LoadOptions{}) })
			if err == nil {
				t.Fatalf("Load: got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %q, want it to contain %q", err, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(err.Error()), "\n") + 1; n != 1 {
				t.Errorf("got %d problems, want 1:\n%v", n, err)
			}
		})
	}
}

// TestLoadSymlinkToRegularInsideTree: the refusal of special files does
// not touch a symlink to a regular file inside the tree.
func TestLoadSymlinkToRegularInsideTree(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "real", "decl.txt"), []byte(okFile), 0o644))
	must(t, os.Symlink("real/decl.txt", filepath.Join(dir, "a.yaml")))
	c, err := loadWithin(t, 5*time.Second, func() (*Config, error) { return Load(dir, LoadOptions{}) })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, _, ok := c.Template("p", "t"); !ok {
		t.Error("template p/t: got none, want it loaded through the symlink")
	}
}

func TestLoadFSRefusesSpecialFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml":    {Data: []byte(okFile)},
		"pipe.yaml": {Mode: fs.ModeNamedPipe | 0o644},
	}
	_, err := loadWithin(t, 5*time.Second, func() (*Config, error) { return LoadFS(fsys, LoadOptions{}) })
	if err == nil || !strings.Contains(err.Error(), "pipe.yaml: a named pipe (FIFO) is not a regular file") {
		t.Fatalf("LoadFS: got %v, want the FIFO refused", err)
	}
}
