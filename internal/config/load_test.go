package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run with -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

// dump is the golden form of a loaded Config: the JSON of the config with
// every project's objects spelled out (they are json:"-" in Project).
func dump(t *testing.T, c *Config) []byte {
	t.Helper()
	type proj struct {
		*Project
		Repositories  map[string]*Repository   `json:"repositories,omitempty"`
		Keys          map[string]*Key          `json:"keys,omitempty"`
		Inventories   map[string]*Inventory    `json:"inventories,omitempty"`
		Environments  map[string]*Environment  `json:"environments,omitempty"`
		Templates     map[string]*Template     `json:"templates,omitempty"`
		Schedules     map[string]*Schedule     `json:"schedules,omitempty"`
		Integrations  map[string]*Integration  `json:"integrations,omitempty"`
		Notifications map[string]*Notification `json:"notifications,omitempty"`
	}
	out := struct {
		Settings Settings        `json:"settings"`
		Projects map[string]proj `json:"projects"`
	}{Settings: c.Settings, Projects: map[string]proj{}}
	for n, p := range c.Projects {
		out.Projects[n] = proj{p, p.Repositories, p.Keys, p.Inventories, p.Environments, p.Templates, p.Schedules, p.Integrations, p.Notifications}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func subdirs(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.IsDir() {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestLoadGood(t *testing.T) {
	for _, name := range subdirs(t, "testdata/good") {
		t.Run(name, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata/good", name), LoadOptions{})
			if err != nil {
				t.Fatalf("Load: got error\n%v\nwant none", err)
			}
			golden(t, filepath.Join("testdata/good", name+".json"), dump(t, c))
		})
	}
}

func TestLoadBad(t *testing.T) {
	for _, name := range subdirs(t, "testdata/bad") {
		t.Run(name, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata/bad", name), LoadOptions{})
			if err == nil {
				t.Fatalf("Load: got a config with %d projects, want errors", len(c.Projects))
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Load: got %T %v, want Errors", err, err)
			}
			for _, e := range es {
				if e.Pos.File == "" {
					t.Errorf("error without a file: %v", e)
				}
			}
			golden(t, filepath.Join("testdata/bad", name+".errors"), []byte(err.Error()+"\n"))
		})
	}
}

// TestThirtyMistakes proves every problem is reported at once.
func TestThirtyMistakes(t *testing.T) {
	_, err := Load("testdata/bad/thirty-mistakes", LoadOptions{})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v, want Errors", err)
	}
	if len(es) != 30 {
		t.Errorf("got %d errors, want 30:\n%v", len(es), err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if seen[e.Error()] {
			t.Errorf("reported twice: %v", e)
		}
		seen[e.Error()] = true
	}
	files := map[string]bool{}
	for _, e := range es {
		files[e.Pos.File] = true
	}
	if len(files) < 3 {
		t.Errorf("got mistakes in %d files, want several", len(files))
	}
}

func TestErrorsSorted(t *testing.T) {
	_, err := Load("testdata/bad/thirty-mistakes", LoadOptions{})
	var es Errors
	errors.As(err, &es)
	for i := 1; i < len(es); i++ {
		a, b := es[i-1].Pos, es[i].Pos
		if a.File > b.File || a.File == b.File && (a.Line > b.Line || a.Line == b.Line && a.Col > b.Col) {
			t.Errorf("errors out of order: %v before %v", es[i-1], es[i])
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okFile = "project: p\nrepositories:\n  r: {url: .}\ntemplates:\n  t: {app: bash, repository: r, script: run.sh}\n"

func loadErr(t *testing.T, root string, opts LoadOptions) string {
	t.Helper()
	c, err := Load(root, opts)
	if err == nil {
		t.Fatalf("Load: got a config with %d projects, want an error", len(c.Projects))
	}
	return err.Error()
}

func TestLoadFileProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // substring of the error; "" means Load succeeds
	}{
		{"utf8 bom accepted", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), append([]byte{0xEF, 0xBB, 0xBF}, okFile...), 0o644))
		}, ""},
		{"utf16 le refused", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), utf16LE("project: p\n"), 0o644))
		}, "a.yaml:1:1: file is UTF-16 encoded; save it as UTF-8"},
		{"utf16 be refused", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte{0xFE, 0xFF, 0, 'p'}, 0o644))
		}, "a.yaml:1:1: file is UTF-16 encoded; save it as UTF-8"},
		{"oversized refused by size", func(t *testing.T, dir string) {
			f, err := os.Create(filepath.Join(dir, "big.yaml"))
			must(t, err)
			must(t, f.Truncate(50<<20)) // sparse: 50 MB on paper, nothing on disk
			must(t, f.Close())
		}, "big.yaml: file is 52428800 bytes, larger than the 4MiB limit; refusing to read it"},
		{"custom size limit", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(okFile+"# "+strings.Repeat("x", 2000)+"\n"), 0o644))
		}, "larger than the 1KiB limit; refusing to read it"},
		{"symlink escaping refused", func(t *testing.T, dir string) {
			outside := t.TempDir()
			must(t, os.WriteFile(filepath.Join(outside, "x.yaml"), []byte(okFile), 0o644))
			must(t, os.Symlink(filepath.Join(outside, "x.yaml"), filepath.Join(dir, "x.yaml")))
		}, "x.yaml: symlink points outside the config tree; refusing to follow it"},
		{"relative symlink escaping refused", func(t *testing.T, dir string) {
			sub := filepath.Join(dir, "tree")
			must(t, os.Mkdir(sub, 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "x.txt"), []byte(okFile), 0o644))
			must(t, os.Symlink("../x.txt", filepath.Join(sub, "x.yaml")))
		}, "x.yaml: symlink points outside the config tree"},
		{"symlink inside accepted", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "real", "x.txt"), []byte(okFile), 0o644))
			must(t, os.Symlink("real/x.txt", filepath.Join(dir, "x.yaml")))
		}, ""},
		{"broken symlink", func(t *testing.T, dir string) {
			must(t, os.Symlink("nowhere.yaml", filepath.Join(dir, "x.yaml")))
		}, "x.yaml: broken symlink"},
		{"empty file ignored", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "empty.yaml"), nil, 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "comments.yml"), []byte("# nothing yet\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(okFile), 0o644))
		}, ""},
		{"dot directories and hidden files skipped", func(t *testing.T, dir string) {
			must(t, os.MkdirAll(filepath.Join(dir, ".git", "x"), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, ".git", "x", "bad.yaml"), []byte(":::\x00"), 0o644))
			must(t, os.Symlink("user@host.1234", filepath.Join(dir, ".#a.yaml"))) // an editor lock file
			must(t, os.WriteFile(filepath.Join(dir, ".hidden.yaml"), []byte("not: [valid"), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(okFile), 0o644))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			root := dir
			if strings.HasPrefix(tt.name, "relative symlink") {
				root = filepath.Join(dir, "tree")
			}
			opts := LoadOptions{}
			if tt.name == "custom size limit" {
				opts.MaxFileSize = 1024
			}
			start := time.Now()
			c, err := Load(root, opts)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Load took %v, want it quick", d)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: got %v, want no error", err)
				}
				if _, _, ok := c.Template("p", "t"); !ok {
					t.Errorf("template p/t: got none, want it loaded")
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, r := range s {
		out = append(out, byte(r), 0)
	}
	return out
}

// sizedFS reports a huge file and fails the test if more than the limit is
// read from it: the size check must come before reading.
type sizedFS struct {
	fstest.MapFS
	t    *testing.T
	read *int64
}

type hugeFile struct {
	fs.File
	read *int64
}

func (h hugeFile) Stat() (fs.FileInfo, error) { return hugeInfo{}, nil }
func (h hugeFile) Read(p []byte) (int, error) {
	*h.read += int64(len(p))
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

type hugeInfo struct{ fs.FileInfo }

func (hugeInfo) Name() string       { return "huge.yaml" }
func (hugeInfo) Size() int64        { return 50 << 20 }
func (hugeInfo) Mode() fs.FileMode  { return 0o644 }
func (hugeInfo) IsDir() bool        { return false }
func (hugeInfo) ModTime() time.Time { return time.Time{} }
func (hugeInfo) Sys() any           { return nil }

func (s sizedFS) Open(name string) (fs.File, error) {
	f, err := s.MapFS.Open(name)
	if err != nil || name != "huge.yaml" {
		return f, err
	}
	return hugeFile{File: f, read: s.read}, nil
}

func TestLoadFSRefusesBySizeBeforeReading(t *testing.T) {
	var read int64
	fsys := sizedFS{MapFS: fstest.MapFS{"huge.yaml": {Data: []byte("x")}, "ok.yaml": {Data: []byte(okFile)}}, t: t, read: &read}
	_, err := LoadFS(fsys, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "huge.yaml: file is 52428800 bytes") {
		t.Fatalf("LoadFS: got %v, want the size refusal", err)
	}
	if read != 0 {
		t.Errorf("read %d bytes of the oversized file, want 0", read)
	}
}

func TestLoadFSLiesAboutSize(t *testing.T) {
	// A file whose Stat says small but which streams on is cut at the limit.
	var read int64
	fsys := liarFS{read: &read}
	_, err := LoadFS(fsys, LoadOptions{MaxFileSize: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "larger than the 1MiB limit") {
		t.Fatalf("LoadFS: got %v, want the size refusal", err)
	}
	if read > 2<<20 {
		t.Errorf("read %d bytes, want at most about the limit", read)
	}
}

type liarFS struct{ read *int64 }

func (l liarFS) Open(name string) (fs.File, error) {
	if name == "." {
		return fstest.MapFS{"a.yaml": {Data: []byte("x")}}.Open(".")
	}
	return liarFile{read: l.read}, nil
}

type liarFile struct{ read *int64 }

func (liarFile) Stat() (fs.FileInfo, error) { return smallInfo{}, nil }
func (l liarFile) Read(p []byte) (int, error) {
	*l.read += int64(len(p))
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}
func (liarFile) Close() error { return nil }

type smallInfo struct{ hugeInfo }

func (smallInfo) Size() int64 { return 10 }

var _ io.Reader = liarFile{}

func TestAliasesAndMergeKeys(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": `project: p
repositories:
  r: {url: ., branch: dev}
templates:
  base: &base
    app: bash
    repository: r
    script: run.sh
    timeout: 5m
  copy:
    <<: *base
    timeout: 10m
environments:
  e:
    vars:
      common: &c {region: eu, zones: [a, b]}
      again: *c
`})
	c, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, tpl, _ := c.Template("p", "copy")
	if tpl.App != AppBash || tpl.Script != "run.sh" || tpl.Timeout != Duration(10*time.Minute) {
		t.Errorf("merged template: got app %q script %q timeout %v, want bash run.sh 10m0s", tpl.App, tpl.Script, tpl.Timeout)
	}
	again := c.Projects["p"].Environments["e"].Vars["again"]
	if !reflect.DeepEqual(again, map[string]any{"region": "eu", "zones": []any{"a", "b"}}) {
		t.Errorf("alias var: got %#v", again)
	}
}

func TestAliasBombRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("project: p\nenvironments:\n  e:\n    vars:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("      a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	dir := writeTree(t, map[string]string{"bomb.yaml": b.String()})
	start := time.Now()
	msg := loadErr(t, dir, LoadOptions{})
	if !strings.Contains(msg, "alias bomb") {
		t.Errorf("got %q, want an alias bomb refusal", msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v, want it quick", d)
	}
}

// TestJSONRoundTrip proves sync can store every object as JSON and
// rebuild an identical one.
func TestJSONRoundTrip(t *testing.T) {
	c, err := Load("testdata/good/full", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, v any) {
		t.Helper()
		b1, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: marshal: %v", name, err)
		}
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(b1, back); err != nil {
			t.Fatalf("%s: unmarshal: %v", name, err)
		}
		b2, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: round trip changed it:\n got %s\nwant %s", name, b2, b1)
		}
		clearPos(reflect.ValueOf(v))
		if !reflect.DeepEqual(normalizeNumbers(v), normalizeNumbers(back)) {
			t.Errorf("%s: round trip is not deeply equal:\n got %#v\nwant %#v", name, back, v)
		}
	}
	check("settings", &c.Settings)
	n := 0
	for _, p := range c.Projects {
		check("project "+p.Name, p)
		for _, o := range p.Repositories {
			check("repository "+o.Name, o)
			n++
		}
		for _, o := range p.Keys {
			check("key "+o.Name, o)
			n++
		}
		for _, o := range p.Inventories {
			check("inventory "+o.Name, o)
			n++
		}
		for _, o := range p.Environments {
			check("environment "+o.Name, o)
			n++
		}
		for _, o := range p.Templates {
			check("template "+o.Name, o)
			n++
		}
		for _, o := range p.Schedules {
			check("schedule "+o.Name, o)
			n++
		}
		for _, o := range p.Integrations {
			check("integration "+o.Name, o)
			n++
		}
		for _, o := range p.Notifications {
			check("notification "+o.Name, o)
			n++
		}
	}
	if n < 15 {
		t.Errorf("checked %d objects, want the full tree", n)
	}
}

// clearPos zeroes every Pos in v (positions are not stored).
func clearPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			clearPos(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == posType {
			if v.CanSet() {
				v.Set(reflect.Zero(posType))
			}
			return
		}
		for i := range v.NumField() {
			clearPos(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			clearPos(v.Index(i))
		}
	case reflect.Map:
		if v.Type().Elem().Kind() == reflect.Pointer {
			for _, k := range v.MapKeys() {
				clearPos(v.MapIndex(k))
			}
		} else if v.Type().Elem() == secretType {
			for _, k := range v.MapKeys() {
				s := v.MapIndex(k).Interface().(Secret)
				s.Pos = Pos{}
				v.SetMapIndex(k, reflect.ValueOf(s))
			}
		}
	}
}

// normalizeNumbers makes int64 and float64 vars comparable after JSON.
func normalizeNumbers(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestLookups(t *testing.T) {
	c, err := Load("testdata/good/full", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, tpl, ok := c.Template("web", "deploy")
	if !ok || p.Name != "web" || tpl.Name != "deploy" {
		t.Fatalf("Template(web, deploy): got %v %v %v", p, tpl, ok)
	}
	if _, _, ok := c.Template("web", "nope"); ok {
		t.Errorf("Template(web, nope): got ok, want not found")
	}
	if _, _, ok := c.Template("nope", "deploy"); ok {
		t.Errorf("Template(nope, deploy): got ok, want not found")
	}
	if r := p.RepositoryOf(tpl); r == nil || r.Name != tpl.Repository {
		t.Errorf("RepositoryOf: got %v, want %s", r, tpl.Repository)
	}
	if !ScopeAdmin.Includes(ScopeRun) || ScopeRead.Includes(ScopeRun) || !ScopeRun.Includes(ScopeRead) || ScopeAdmin.Includes("bogus") {
		t.Errorf("scope inclusion is wrong")
	}
	if !tpl.Allows(OverrideLimit) || tpl.Allows(OverrideWorkspace) {
		t.Errorf("deploy Allows: got limit %v workspace %v, want true false", tpl.Allows(OverrideLimit), tpl.Allows(OverrideWorkspace))
	}
	if inv := p.InventoryOf(tpl); inv == nil || inv.Name != "prod" {
		t.Errorf("InventoryOf(deploy): got %v, want prod", inv)
	}
	if env := p.EnvironmentOf(tpl); env == nil || env.Name != "prod" {
		t.Errorf("EnvironmentOf(deploy): got %v, want prod", env)
	}
	_, report, _ := c.Template("web", "report")
	if p.InventoryOf(report) != nil || p.EnvironmentOf(report) != nil {
		t.Errorf("report: got an inventory or environment, want none")
	}
	if s := p.Schedules["paused"]; s.IsActive() {
		t.Errorf("paused schedule: got active, want inactive")
	}
	if s := p.Schedules["nightly"]; !s.IsActive() || s.Timezone != "America/New_York" {
		t.Errorf("nightly schedule: got active %v tz %q", s.IsActive(), s.Timezone)
	}
	if _, in, ok := c.Integration("web", "alerts"); !ok || in.Template != "cleanup" {
		t.Errorf("Integration(web, alerts): got %v %v", in, ok)
	}
	if _, _, ok := c.Integration("nope", "alerts"); ok {
		t.Errorf("Integration(nope, alerts): got ok, want not found")
	}
	ci, ops := c.Settings.APITokens["ci"], c.Settings.APITokens["ops"]
	if !ci.CoversProject("web") || ci.CoversProject("infra") || !ops.CoversProject("infra") {
		t.Errorf("CoversProject: ci web %v, ci infra %v, ops infra %v; want true false true",
			ci.CoversProject("web"), ci.CoversProject("infra"), ops.CoversProject("infra"))
	}
}

// TestManyDanglingReferencesStayFast guards against quadratic "did you
// mean" searches: thousands of dangling references still load quickly.
func TestManyDanglingReferencesStayFast(t *testing.T) {
	var b strings.Builder
	b.WriteString("project: p\nrepositories:\n  r: {url: .}\ntemplates:\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "  t%04d: {app: bash, repository: r, script: x.sh}\n", i)
	}
	b.WriteString("schedules:\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "  s%04d: {cron: '@daily', template: missing%04d}\n", i, i)
	}
	dir := writeTree(t, map[string]string{"a.yaml": b.String()})
	start := time.Now()
	_, err := Load(dir, LoadOptions{})
	var es Errors
	if !errors.As(err, &es) || len(es) != 3000 {
		t.Fatalf("got %d errors, want 3000", len(es))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Load took %v, want well under 3s", d)
	}
}
