package sync

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPassLogsPrunedProject serves a tree with two projects, then the tree
// without one of them (as when another config is served on the same data
// directory), and checks the pass warns which project it pruned.
func TestPassLogsPrunedProject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	other := strings.Replace(demoYAML, "project: demo", "project: other", 1)
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML, "other.yaml": other})
	var logs bytes.Buffer
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: openStore(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.pass(ctx)
	if strings.Contains(logs.String(), "pruned project") {
		t.Fatalf("first pass logs a prune:\n%s", logs.String())
	}
	if err := os.Remove(filepath.Join(dir, "other.yaml")); err != nil {
		t.Fatal(err)
	}
	s.pass(ctx)
	var pruned []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "pruned project") {
			pruned = append(pruned, line)
		}
	}
	if len(pruned) != 1 || !strings.Contains(pruned[0], "level=WARN") || !strings.Contains(pruned[0], "project=other") || !strings.Contains(pruned[0], "objects=3") {
		t.Fatalf("want one warning for project other and its 3 objects, got:\n%s", logs.String())
	}
}
