// Package testenv helps tests use the real tools and servers they need:
// it finds them, starts them on loopback, and skips (or, under
// SEMAPHORED_REQUIRE_TOOLS=1 as scripts/test sets it, fails) when one is
// missing, so that CI never passes by skipping. Imported by tests only.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Required reports whether missing tools fail tests instead of skipping them.
func Required() bool { return os.Getenv("SEMAPHORED_REQUIRE_TOOLS") == "1" }

// LookTool returns the path of the named executable, looked up in PATH and
// then in the tools cache scripts/deps fills ($SEMAPHORED_TOOLS/bin, default
// ~/.cache/semaphored-tools/bin). Missing: skip, or fail under Required.
func LookTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range toolDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if Required() {
		t.Fatalf("%s not found in PATH or the tools cache; run scripts/deps", name)
	}
	t.Skipf("%s not found in PATH or the tools cache (scripts/deps installs it)", name)
	return ""
}

// HasTool reports whether LookTool would find name, without skipping.
func HasTool(name string) bool {
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	for _, dir := range toolDirs() {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

func toolDirs() []string {
	if d := os.Getenv("SEMAPHORED_TOOLS"); d != "" {
		return []string{filepath.Join(d, "bin")}
	}
	var dirs []string
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "semaphored-tools", "bin"))
	}
	return dirs
}
