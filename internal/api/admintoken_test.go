package api_test

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/semaphored/semaphored/internal/api"
)

func TestWriteAdminToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, err := api.WriteAdminToken(dir)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if raw, err := hex.DecodeString(tok); err != nil || len(raw) != 32 {
		t.Errorf("token: got %q, want 32 bytes hex-encoded", tok)
	}
	path := filepath.Join(dir, api.AdminTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode: got %04o, want 0600", got)
	}
	again, err := api.WriteAdminToken(dir)
	if err != nil || again != tok {
		t.Errorf("second call: got %q (%v), want the same token", again, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (no temp file left)", len(entries), api.AdminTokenFile)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := api.WriteAdminToken(dir); !errors.Is(err, api.ErrInsecureTokenFile) {
		t.Errorf("world-readable file: got %v, want ErrInsecureTokenFile", err)
	}

	short := t.TempDir()
	if err := os.WriteFile(filepath.Join(short, api.AdminTokenFile), []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := api.WriteAdminToken(short); err == nil {
		t.Error("a 3-character token file: got nil error, want one")
	}
}

// TestWriteAdminTokenRace starts many first calls at once: they all agree.
func TestWriteAdminTokenRace(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	toks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { toks[i], errs[i] = api.WriteAdminToken(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Errorf("call %d: got %q (%v), want %q", i, toks[i], errs[i], toks[0])
		}
	}
}
