package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeBlocks returns the commands of the README's first n ```sh blocks,
// one slice per block, comments and blank lines dropped.
func readmeBlocks(t *testing.T, n int) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	rest := string(b)
	for len(blocks) < n {
		_, after, ok := strings.Cut(rest, "```sh\n")
		if !ok {
			t.Fatalf("README has %d sh blocks, want %d", len(blocks), n)
		}
		body, after, _ := strings.Cut(after, "```")
		var cmds []string
		for line := range strings.SplitSeq(body, "\n") {
			if cmd, _, _ := strings.Cut(line, "#"); strings.TrimSpace(cmd) != "" {
				cmds = append(cmds, strings.TrimSpace(cmd))
			}
		}
		blocks = append(blocks, cmds)
		rest = after
	}
	return blocks
}

// TestReadmeFirstSection runs the README's first section as written: it
// builds the binary first, serves with no flags (the bundled quickstart,
// state in ./data), and every bin/semaphored command of the second block
// succeeds from the same directory, finding the token in ./data.
func TestReadmeFirstSection(t *testing.T) {
	blocks := readmeBlocks(t, 2)
	if got, want := blocks[0], []string{"go build -o bin/semaphored ./cmd/semaphored", "bin/semaphored serve"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README's first commands: got %q, want %q", got, want)
	}
	dir := t.TempDir()
	cmd := exec.Command(semaphoredBinary(t), "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = withoutSemaphoredEnv()
	d := runDaemon(t, cmd, filepath.Join(dir, "data"))
	ran := 0
	for _, line := range blocks[1] {
		args, ok := strings.CutPrefix(line, "bin/semaphored ")
		if !ok {
			continue // curl: not the CLI
		}
		c := exec.Command(semaphoredBinary(t), strings.Fields(args)...)
		c.Dir = dir
		c.Env = append(withoutSemaphoredEnv(), "SEMAPHORED_SERVER="+d.url)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
		ran++
	}
	if ran < 3 {
		t.Errorf("ran %d CLI commands of the README's second block, want at least 3", ran)
	}
}

// withoutSemaphoredEnv is the test's environment without SEMAPHORED_*
// variables, so commands see only their defaults.
func withoutSemaphoredEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEMAPHORED_") || strings.HasPrefix(kv, "SEMAPHORED_REQUIRE_TOOLS=") {
			env = append(env, kv)
		}
	}
	return env
}
