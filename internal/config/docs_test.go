package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docBlock is one fenced ```yaml block of a Markdown file.
type docBlock struct {
	file string // relative to the repository root
	line int    // of the block's first line, after the fence
	text string
}

// String names the block the way an editor opens it.
func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// yamlBlocks returns the ```yaml and ```yml blocks of the Markdown file
// name (read from root).
func yamlBlocks(t *testing.T, root, name string) []docBlock {
	t.Helper()
	f, err := os.Open(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []docBlock
		cur    *docBlock
		fence  string // the open fence of any block, yaml or not
		lineNo int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:strings.LastIndex(trimmed, "`")+1]
			if info := strings.TrimSpace(strings.TrimPrefix(trimmed, fence)); info == "yaml" || info == "yml" {
				cur = &docBlock{file: name, line: lineNo + 1}
			}
		case fence != "" && strings.HasPrefix(trimmed, fence) && strings.TrimLeft(trimmed, "`") == "":
			if cur != nil {
				blocks = append(blocks, *cur)
			}
			fence, cur = "", nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Errorf("%s: a ```yaml block is not closed", cur)
	}
	return blocks
}

// docFiles are the Markdown files of the operator docs: README.md and
// docs/*.md, relative to root.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, err := filepath.Rel(root, m)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	return files
}

// invalidMarker is the comment that marks a block written to show an
// error: "# invalid: TEXT", where TEXT must be part of what the loader
// reports.
var invalidMarker = regexp.MustCompile(`(?m)^\s*#\s*invalid:\s*(.+?)\s*$`)

// TestDocsExamples loads every declaration of the docs as a one-file tree
// through the loader and validator: README.md and docs/*.md. A ```yaml
// block whose top level has project: or settings: is a declaration and
// must be valid, unless a comment "# invalid: TEXT" says it shows an
// error: then it must be refused with TEXT in the errors. A block that
// declares kinds without project: is refused as the loader refuses such a
// file. Other YAML (an Alertmanager receiver, a compose file, a comment
// alone) is not a declaration and is left alone. Secret references need
// no values: the loader checks references, not what they hold.
func TestDocsExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	var declarations, invalid, other int
	for _, name := range docFiles(t, root) {
		for _, b := range yamlBlocks(t, root, name) {
			kind := classifyBlock(b)
			switch kind {
			case "other":
				other++
				continue
			case "invalid":
				invalid++
			default:
				declarations++
			}
			t.Run(b.String(), func(t *testing.T) {
				err := loadBlock(t, b)
				m := invalidMarker.FindStringSubmatch(b.text)
				switch {
				case m == nil && err != nil:
					t.Errorf("%s: the example is refused by the loader:\n%v", b, err)
				case m != nil && err == nil:
					t.Errorf("%s: the example is marked \"# invalid: %s\" but loads without error", b, m[1])
				case m != nil && !strings.Contains(err.Error(), m[1]):
					t.Errorf("%s: the example is refused, but not with %q:\n%v", b, m[1], err)
				}
			})
		}
	}
	t.Logf("%d declarations, %d invalid examples, %d other YAML blocks", declarations, invalid, other)
	if declarations < 10 {
		t.Errorf("found %d declaration examples in the docs, want at least 10 (are the blocks still ```yaml?)", declarations)
	}
}

// classifyBlock says what a block is: "declaration", "invalid" (marked to
// show an error) or "other" (YAML that is not a declaration).
func classifyBlock(b docBlock) string {
	if invalidMarker.MatchString(b.text) {
		return "invalid"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil || len(doc.Content) == 0 {
		// Malformed YAML not marked invalid: the loader reports it when a
		// line starts with project: or settings:, as it would in a tree.
		if declMarker.MatchString(b.text) {
			return "declaration"
		}
		return "other"
	}
	if notDeclaration(doc.Content[0]) != "" {
		return "other"
	}
	return "declaration"
}

// loadBlock writes b as the one file of a fresh tree, named after the
// block's place in the docs, and loads it.
func loadBlock(t *testing.T, b docBlock) error {
	t.Helper()
	dir := t.TempDir()
	name := strings.NewReplacer("/", "_", ".md", "").Replace(b.file) + fmt.Sprintf("_%d.yaml", b.line)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, LoadOptions{})
	if err != nil {
		var es Errors
		if !errors.As(err, &es) {
			return err
		}
		// Point each problem at the docs: the file's line 1 is the block's
		// first line.
		var lines []string
		for _, e := range es {
			line := e.Error()
			if e.Pos.Line > 0 {
				line = fmt.Sprintf("%s:%d:%d: %s: %s", b.file, b.line+e.Pos.Line-1, e.Pos.Col, e.Path, e.Msg)
			}
			lines = append(lines, line)
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	return nil
}

// TestDocsExamplesCheck checks the check itself: a valid block passes, a
// broken one is caught with its place in the docs, a fragment without
// project: is refused, foreign YAML is left alone.
func TestDocsExamplesCheck(t *testing.T) {
	dir := t.TempDir()
	md := "# Doc\n\n```yaml\nproject: web\nrepositories:\n  site: {url: https://example.com/site.git}\n```\n\n" +
		"```yaml\n# invalid: unknown key \"brnach\"\nproject: web\nrepositories:\n  site: {url: https://example.com/site.git, brnach: main}\n```\n\n" +
		"```yaml\ntemplates:\n  deploy: {app: bash, script: x.sh, repository: site}\n```\n\n" +
		"```yaml\nreceivers:\n  - name: semaphored\n```\n\n" +
		"````markdown\n```yaml\nproject: \"\"\n```\n````\n"
	if err := os.WriteFile(filepath.Join(dir, "doc.md"), []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(t, dir, "doc.md")
	if len(blocks) != 4 {
		t.Fatalf("got %d yaml blocks, want 4 (the one inside a ````markdown block is not one): %v", len(blocks), blocks)
	}
	for i, tc := range []struct {
		kind    string
		line    int
		wantErr string
	}{
		{"declaration", 4, ""},
		{"invalid", 10, `doc.md:13:45: projects.web.repositories.site.brnach: unknown key "brnach"`},
		{"declaration", 17, `doc.md:17:1: project: missing top-level key "project"`},
		{"other", 22, ""},
	} {
		b := blocks[i]
		if got := classifyBlock(b); got != tc.kind {
			t.Errorf("block %d: got kind %s, want %s", i, got, tc.kind)
		}
		if b.line != tc.line {
			t.Errorf("block %d: got line %d, want %d", i, b.line, tc.line)
		}
		if tc.kind == "other" {
			continue
		}
		err := loadBlock(t, b)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("block %d: got %v, want no error", i, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("block %d: got %v, want an error with %q", i, err, tc.wantErr)
		}
	}
}

// settingsKeys lists the keys of settings: as the docs name them: a
// nested struct's fields as "retention.keep_tasks", a map as
// "api_tokens.NAME".
func settingsKeys() []string {
	var keys []string
	t := reflect.TypeFor[Settings]()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map:
			keys = append(keys, tag+".NAME")
		case ft.Kind() == reflect.Struct && ft != secretType && ft != posType:
			for j := range ft.NumField() {
				sub, _, _ := strings.Cut(ft.Field(j).Tag.Get("yaml"), ",")
				if sub != "" && sub != "-" {
					keys = append(keys, tag+"."+sub)
				}
			}
		default:
			keys = append(keys, tag)
		}
	}
	return keys
}

// TestDocsSettingsTable checks that the settings table of
// docs/configuration.md names every key of settings: (its first column),
// so a setting added to the Go types is documented.
func TestDocsSettingsTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Settings\n")
	if !ok {
		t.Fatal("docs/configuration.md has no \"## Settings\" section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	documented := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| `([a-z_.A-Z]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		documented[m[1]] = true
	}
	keys := settingsKeys()
	if len(keys) < 8 {
		t.Fatalf("got %d settings keys from the Go types, want at least 8: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("settings key %s is not in the settings table of docs/configuration.md", k)
		}
	}
}
