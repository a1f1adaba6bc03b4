package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds two arbitrary files to the loader: it must never panic,
// and it must either return a config that encodes to JSON or an Errors
// value whose every entry names a file, the same on a second load.
func FuzzLoad(f *testing.F) {
	for _, root := range []string{"testdata/good", "testdata/bad"} {
		for _, p := range declFiles(f, root) {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, []byte(okFile))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fsys := fstest.MapFS{"a.yaml": {Data: a}, "dir/b.yml": {Data: b}}
		c, err := LoadFS(fsys, LoadOptions{MaxFileSize: 64 << 10})
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("got %T %v, want a non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.Pos.File != "a.yaml" && e.Pos.File != "dir/b.yml" {
					t.Errorf("error names file %q: %v", e.Pos.File, e)
				}
			}
			_, err2 := LoadFS(fsys, LoadOptions{MaxFileSize: 64 << 10})
			if err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second load differs:\n%v\nvs\n%v", err, err2)
			}
			return
		}
		if c == nil {
			t.Fatal("got a nil config and no error")
		}
		if _, err := json.Marshal(c); err != nil {
			t.Errorf("marshal loaded config: %v", err)
		}
		for _, p := range c.Projects {
			for _, o := range p.Templates {
				if _, err := json.Marshal(o); err != nil {
					t.Errorf("marshal template: %v", err)
				}
			}
			for _, o := range p.Environments {
				if _, err := json.Marshal(o); err != nil {
					t.Errorf("marshal environment: %v", err)
				}
			}
		}
	})
}

// TestFuzzCorpusPresent keeps the committed seed corpus from vanishing.
func TestFuzzCorpusPresent(t *testing.T) {
	m, err := filepath.Glob("testdata/fuzz/FuzzLoad/*")
	if err != nil || len(m) < 4 {
		t.Errorf("got %d seed corpus files in testdata/fuzz/FuzzLoad, want at least 4", len(m))
	}
}
