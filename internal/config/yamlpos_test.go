package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestYAMLErrorPos: syntax errors point at the line and column of the
// problem, not at yaml.v3's context line (one early for parser errors,
// missing on the first line) and column 1.
func TestYAMLErrorPos(t *testing.T) {
	tests := []struct {
		text      string
		line, col int
	}{
		{"project: p\ntemplates:\n  t: {app: bash\n", 3, 6},
		{"project: p\n  bad indent: x\n", 2, 13},
		{"project: p\n\ttab: x\n", 2, 1},
		{"a:\n  b: 1\n  c: 2\n d: 3\n", 4, 2},
		{"a:\n  b: 1\n  c: 2\n  - d\n", 4, 3},
		{"a: [1,\n  2]\nb: {c\n", 3, 4},
		{"a: 'unterminated\nb: 2\n", 1, 4},
		{"a: x\nb: \"open\nc: 2\n", 2, 4},
		{"a: @x\n", 1, 4},
		{"a: b: c\n", 1, 5},
		{"- a\nb: 1\n", 2, 1},
		{"a: [1, 2\nb: 3\n", 1, 4},
		{"x: 1\ny: 2\nz: 3\nw: |\n  text\n bad\n", 6, 2},
		{"a: *nope\n", 1, 4},
		{"# comment\n\nname: 'é' : x: y\n", 3, 14},
		{"a: 1\n---\nb: [\n", 3, 4},
	}
	for _, tt := range tests {
		var n yaml.Node
		dec := yaml.NewDecoder(bytesReader(tt.text))
		var err error
		for err == nil {
			err = dec.Decode(&n)
		}
		e := yamlError("f.yaml", []byte(tt.text), err)
		if e.Pos.Line != tt.line || e.Pos.Col != tt.col {
			t.Errorf("%q (%v): got %d:%d, want %d:%d", tt.text, err, e.Pos.Line, e.Pos.Col, tt.line, tt.col)
		}
	}
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }
