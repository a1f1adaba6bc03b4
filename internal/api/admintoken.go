package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the name of the admin token file in the data directory.
const AdminTokenFile = "admin.token"

// ErrInsecureTokenFile means the admin token file can be read by group or
// others; WriteAdminToken refuses to use it.
var ErrInsecureTokenFile = errors.New("admin token file is readable by group or others")

// WriteAdminToken returns the admin token of dataDir/admin.token. When the
// file is missing it creates it (and dataDir, mode 0700) with 32 random
// bytes hex-encoded, mode 0600: the token is written to a temporary file
// that is then hard-linked into place, so the file appears complete or not
// at all, and two daemons starting at once agree on one token. A file
// readable by group or others is refused (ErrInsecureTokenFile), as ssh
// refuses such a private key: an admin token every local user can read is
// no protection; the error says how to fix it.
func WriteAdminToken(dataDir string) (token string, err error) {
	path := filepath.Join(dataDir, AdminTokenFile)
	if tok, err := readAdminToken(path); !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	token = hex.EncodeToString(raw[:])
	tmp, err := os.CreateTemp(dataDir, ".admin.token-*")
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	// Link fails when the file exists: another process won the race.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readAdminToken(path)
		}
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return token, nil
}

// readAdminToken reads an existing token file; fs.ErrNotExist when missing.
func readAdminToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("read admin token %s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("read admin token %s (mode %04o): %w; run chmod 600 %s",
			path, fi.Mode().Perm(), ErrInsecureTokenFile, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("read admin token %s: file holds %d characters, want at least 32 (delete it to get a new token)", path, len(tok))
	}
	return tok, nil
}
