package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultMaxFileSize is the default LoadOptions.MaxFileSize.
const DefaultMaxFileSize = 4 << 20

// LoadOptions tune Load and LoadFS.
type LoadOptions struct {
	// MaxFileSize refuses larger declaration files, by size, before they
	// are read (default 4 MiB).
	MaxFileSize int64
	// Logger, when set, gets one debug line per YAML file that is not a
	// declaration and was skipped (a playbook, an inventory, group_vars),
	// with the reason.
	Logger *slog.Logger
}

// Load reads every *.yaml and *.yml file under root (recursively, in
// sorted order, skipping dot-directories such as .git), validates the
// whole tree and returns it with defaults applied. On any problem it
// returns an Errors value listing every one of them. Symlinks are
// followed only when their target stays inside root; symlinked
// directories are not descended into.
func Load(root string, opts LoadOptions) (*Config, error) {
	files, err := readTree(root, opts)
	if err != nil {
		return nil, err
	}
	return loadFiles(files, opts)
}

// LoadFS is Load on a file system (tests, fuzzing, embedded trees). It
// cannot tell symlinks apart, so it does no escape check: prefer Load for
// directories on disk.
func LoadFS(fsys fs.FS, opts LoadOptions) (*Config, error) {
	files, err := readFS(fsys, opts)
	if err != nil {
		return nil, err
	}
	return loadFiles(files, opts)
}

// LoadFile is Load on one declaration file, named name in problems, whose
// contents are data: `validate FILE` checks a file on its own with it.
func LoadFile(name string, data []byte, opts LoadOptions) (*Config, error) {
	return loadFiles([]file{{name: name, data: data}}, opts)
}

// file is one declaration file's name (slash-separated, relative to the
// root) and contents, or the problem that kept it from being read.
type file struct {
	name string
	data []byte
	err  *Error
}

// isDeclFile reports whether a file name is a declaration file: *.yaml or
// *.yml, not hidden (editor lock files such as .#a.yaml are skipped).
func isDeclFile(name string) bool {
	if strings.HasPrefix(path.Base(name), ".") {
		return false
	}
	ext := strings.ToLower(path.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

func skipDir(name string) bool { return strings.HasPrefix(name, ".") && name != "." && name != ".." }

func maxSize(opts LoadOptions) int64 {
	if opts.MaxFileSize > 0 {
		return opts.MaxFileSize
	}
	return DefaultMaxFileSize
}

func tooBig(name string, size, limit int64) *Error {
	return &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("file is %d bytes, larger than the %s limit; refusing to read it", size, ByteSize(limit))}
}

func readTree(root string, opts LoadOptions) ([]file, error) {
	limit := maxSize(opts)
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", root, err)
	}
	realRoot, err = filepath.Abs(realRoot)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", root, err)
	}
	if fi, err := os.Stat(realRoot); err != nil {
		return nil, fmt.Errorf("load config %s: %w", root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("load config %s: not a directory", root)
	}
	var files []file
	err = filepath.WalkDir(realRoot, func(p string, de fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(realRoot, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			files = append(files, file{name: rel, err: &Error{Pos: Pos{File: rel}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}})
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			if p != realRoot && skipDir(de.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !isDeclFile(de.Name()) {
			return nil
		}
		target := p
		mode := de.Type()
		if mode&fs.ModeSymlink != 0 {
			t, err := filepath.EvalSymlinks(p)
			if err != nil {
				files = append(files, file{name: rel, err: &Error{Pos: Pos{File: rel}, Msg: fmt.Sprintf("broken symlink: %v", unwrapPath(err))}})
				return nil
			}
			if r, err := filepath.Rel(realRoot, t); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
				files = append(files, file{name: rel, err: &Error{Pos: Pos{File: rel}, Msg: "symlink points outside the config tree; refusing to follow it"}})
				return nil
			}
			fi, err := os.Stat(t)
			if err != nil {
				files = append(files, file{name: rel, err: &Error{Pos: Pos{File: rel}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}})
				return nil
			}
			target, mode = t, fi.Mode().Type()
		}
		if e := notRegular(rel, mode); e != nil {
			files = append(files, file{name: rel, err: e})
			return nil
		}
		if mode.IsDir() {
			return nil // a symlinked directory: not descended into
		}
		f := readOne(rel, limit, func() (fs.File, error) { return openNoBlock(target) })
		if f != nil {
			files = append(files, *f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", root, err)
	}
	return files, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notRegular returns the problem of a declaration file name that is a
// named pipe, socket or device (of type mode, as Lstat or Stat tells it),
// or nil for a regular file or a directory. Such files are refused before
// they are opened: opening a FIFO blocks until a writer comes, which would
// wedge every sync pass and `validate`.
func notRegular(name string, mode fs.FileMode) *Error {
	var what string
	switch t := mode.Type(); {
	case t == 0 || t&fs.ModeDir != 0:
		return nil
	case t&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	case t&fs.ModeCharDevice != 0:
		what = "a character device"
	case t&fs.ModeDevice != 0:
		what = "a block device"
	default:
		what = "not a regular file (" + t.String() + ")"
	}
	return &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("%s is not a regular file; declarations must be regular files (or symlinks to one inside the tree); refusing to open it", what)}
}

// openNoBlock opens a file for reading without ever blocking in open: a
// named pipe put in place after the type check opens at once (and is then
// refused by readOne's Stat) instead of waiting for a writer.
func openNoBlock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// readOne opens, checks the type and size of, and reads one file; nil
// means it is a directory and is skipped (a symlinked directory).
func readOne(name string, limit int64, open func() (fs.File, error)) *file {
	fh, err := open()
	if err != nil {
		return &file{name: name, err: &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return &file{name: name, err: &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
	}
	if fi.IsDir() {
		return nil
	}
	if e := notRegular(name, fi.Mode()); e != nil {
		return &file{name: name, err: e}
	}
	if fi.Size() > limit {
		return &file{name: name, err: tooBig(name, fi.Size(), limit)}
	}
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return &file{name: name, err: &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
	}
	if int64(len(data)) > limit {
		return &file{name: name, err: tooBig(name, int64(len(data)), limit)}
	}
	return &file{name: name, data: data}
}

func readFS(fsys fs.FS, opts LoadOptions) ([]file, error) {
	limit := maxSize(opts)
	var files []file
	err := fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			files = append(files, file{name: p, err: &Error{Pos: Pos{File: p}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}})
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			if p != "." && skipDir(de.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !isDeclFile(de.Name()) {
			return nil
		}
		mode := de.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := fs.Stat(fsys, p)
			if err != nil {
				files = append(files, file{name: p, err: &Error{Pos: Pos{File: p}, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}})
				return nil
			}
			mode = fi.Mode().Type()
		}
		if e := notRegular(p, mode); e != nil {
			files = append(files, file{name: p, err: e})
			return nil
		}
		if f := readOne(p, limit, func() (fs.File, error) { return fsys.Open(p) }); f != nil {
			files = append(files, *f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return files, nil
}

// loader merges the files of one tree into a Config.
type loader struct {
	errs     errs
	fieldPos map[fieldKey]Pos
	nodes    map[fieldKey]fileNode
	bad      map[fieldKey]bool
	fields   map[reflect.Type]*structInfo
	cfg      *Config
	settings Pos // where settings were declared
	// where project-level scalars were declared
	projDesc map[string]Pos
	projMax  map[string]Pos
	tzCache  map[string]error
	keep     []any
	// suggestions counts "did you mean" searches (see maxSuggestions).
	suggestions int
}

func loadFiles(files []file, opts LoadOptions) (*Config, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	size := 0
	for _, f := range files {
		size += len(f.data)
	}
	l := &loader{
		fieldPos: map[fieldKey]Pos{},
		nodes:    make(map[fieldKey]fileNode, size/200), // about one struct per 200 bytes of YAML
		bad:      map[fieldKey]bool{},
		fields:   map[reflect.Type]*structInfo{},
		cfg:      &Config{Settings: defaultSettings(), Projects: map[string]*Project{}},
		projDesc: map[string]Pos{},
		projMax:  map[string]Pos{},
		tzCache:  map[string]error{},
	}
	docs := parseAll(files)
	for i, f := range files {
		if f.err != nil {
			l.errs.list = append(l.errs.list, f.err)
			continue
		}
		if docs[i].skip != "" {
			if opts.Logger != nil {
				opts.Logger.Debug("not a declaration; skipped", "file", f.name, "reason", docs[i].skip)
			}
			continue
		}
		l.loadFile(f.name, docs[i])
	}
	l.validate()
	if len(l.errs.list) > 0 {
		l.errs.list.sort()
		return nil, l.errs.list
	}
	return l.cfg, nil
}

func defaultSettings() Settings {
	return Settings{
		MaxParallelTasks: 4,
		Retention:        Retention{KeepTasks: 100, KeepDays: 30},
		MaxLogBytes:      64 << 20,
		StopGracePeriod:  Duration(10e9),
		DrainTimeout:     Duration(DefaultDrainTimeout),
		Links:            Links{Expiry: Duration(90 * 24 * 60 * 60 * 1e9)},
	}
}

// checkText refuses what is not UTF-8 text; it returns the data with a
// UTF-8 byte order mark removed.
func checkText(name string, data []byte) ([]byte, *Error) {
	at := Pos{File: name, Line: 1, Col: 1}
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return nil, &Error{Pos: at, Msg: "file is UTF-16 encoded; save it as UTF-8"}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &Error{Pos: offsetPos(name, data, i), Msg: "binary file (NUL byte); declarations must be UTF-8 text"}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return nil, &Error{Pos: offsetPos(name, data, i), Msg: "invalid UTF-8; declarations must be UTF-8 text"}
	}
	return data, nil
}

func offsetPos(name string, data []byte, off int) Pos {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return Pos{File: name, Line: line, Col: col}
}

var projectKinds = []string{"repositories", "keys", "inventories", "environments", "templates", "schedules", "integrations", "notifications"}

var kindSingular = map[string]string{
	"repositories": "repository", "keys": "key", "inventories": "inventory", "environments": "environment",
	"templates": "template", "schedules": "schedule", "integrations": "integration",
	"notifications": "notification",
}

var topKeys = []string{"project", "description", "max_parallel_tasks", "repositories", "keys", "inventories", "environments", "templates", "schedules", "integrations", "notifications", "settings"}

// parsed is one file after the text checks and the YAML parse.
type parsed struct {
	root *yaml.Node // nil: nothing to decode
	errs []*Error
	// skip says why the file is not a declaration (see declKind); "": it
	// is one, or may be one.
	skip string
}

// kindKeys are the top-level keys of a project's kinds.
var kindKeys = map[string]bool{
	"repositories": true, "keys": true, "inventories": true, "environments": true,
	"templates": true, "schedules": true, "integrations": true, "notifications": true,
}

// declMarker matches a line of a declaration file's text that starts
// with project: or settings:, for files that are not valid YAML.
var declMarker = regexp.MustCompile(`(?m)^(project|settings)[ \t]*:`)

// notDeclaration returns why the document whose top-level node is root is
// not a declaration, or "" when it is one or probably is one. The rule,
// which lets declarations live beside playbooks, inventories, group_vars
// and other YAML in one tree:
//
//   - a declaration is a mapping with a "project" or "settings" key;
//   - a mapping without them but with a project kind (repositories, keys,
//     inventories, environments, templates, schedules, integrations)
//     whose value is a mapping is a declaration that forgot "project:",
//     and is reported as such;
//   - anything else (a list such as a playbook, a scalar, another
//     mapping such as group_vars, an inventory or requirements.yml) is
//     not a declaration and is skipped.
func notDeclaration(root *yaml.Node) string {
	n := root
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.SequenceNode:
		return "a list at the top level (a playbook?)"
	case n.Kind == yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "" // only comments: nothing to load either way
		}
		return "a scalar at the top level"
	case n.Kind != yaml.MappingNode:
		return "not a mapping at the top level"
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "project" || k == "settings" {
			return ""
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if kindKeys[n.Content[i].Value] && v.Kind == yaml.MappingNode {
			return ""
		}
	}
	return "a mapping without project: or settings: (group_vars, an inventory, requirements?)"
}

// parseFile checks that data is UTF-8 text and parses its one YAML
// document. It touches nothing shared, so files parse in parallel.
func parseFile(name string, data []byte) parsed {
	var out parsed
	data, e := checkText(name, data)
	if e != nil {
		out.errs = append(out.errs, e)
		return out
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		switch {
		case err == io.EOF:
		case !declMarker.Match(data):
			// Not valid YAML, and nothing says it was meant as a
			// declaration: someone else's file with a mistake.
			out.skip = "not valid YAML, and no line starts with project: or settings:"
		default:
			out.errs = append(out.errs, yamlError(name, data, err))
		}
		return out
	}
	if len(doc.Content) > 0 {
		if out.skip = notDeclaration(doc.Content[0]); out.skip != "" {
			return out
		}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		at := Pos{File: name, Line: next.Line, Col: next.Column}
		if len(next.Content) > 0 {
			at.Line, at.Col = next.Content[0].Line, next.Content[0].Column
		}
		out.errs = append(out.errs, &Error{Pos: at, Msg: "a second YAML document (after ---); write one document per file"})
	} else if err != io.EOF {
		out.errs = append(out.errs, yamlError(name, data, err))
		return out
	}
	if len(doc.Content) > 0 {
		out.root = doc.Content[0]
	}
	return out
}

// parseAll parses the files, on up to GOMAXPROCS goroutines for large
// trees; the goroutines end before it returns.
func parseAll(files []file) []parsed {
	out := make([]parsed, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files)/8)
	if workers <= 1 {
		// Small trees parse inline: goroutines would cost more than they save.
		for i, f := range files {
			if f.err == nil {
				out[i] = parseFile(f.name, f.data)
			}
		}
		return out
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if files[i].err == nil {
					out[i] = parseFile(files[i].name, files[i].data)
				}
			}
		}()
	}
	for i := range files {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

func (l *loader) loadFile(name string, doc parsed) {
	l.errs.list = append(l.errs.list, doc.errs...)
	if doc.root == nil {
		return
	}
	if expandedSize(doc.root, maxNodeVisits, map[*yaml.Node]int{}) > maxNodeVisits {
		l.errs.add(Pos{File: name, Line: 1, Col: 1}, "", "anchors and aliases expand to more than %d nodes; refusing an alias bomb", maxNodeVisits)
		return
	}
	d := &decoder{file: name, errs: &l.errs, fieldPos: l.fieldPos, nodes: l.nodes, bad: l.bad, fields: l.fields, keep: &l.keep}
	byKey := topLevel(d, doc.root)
	if byKey == nil {
		return
	}
	if p, ok := byKey["settings"]; ok {
		l.loadSettings(d, p)
	}
	proj := l.projectOf(d, byKey)
	if proj == nil {
		return
	}
	l.loadProjectFields(d, proj, byKey)
	l.loadKinds(d, proj, byKey)
}

// topLevel returns a file's known top-level keys with their pairs,
// reporting unknown keys; nil when the file declares nothing (only
// comments) or is not a mapping.
func topLevel(d *decoder, doc *yaml.Node) map[string]pair {
	root := d.visit(doc)
	if root == nil || isNull(root) {
		return nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "expected a mapping of top-level keys (project, templates, ...), got %s", describe(root))
		return nil
	}
	byKey := map[string]pair{}
	for _, p := range d.pairs(root, "") {
		if !contains(topKeys, p.k.Value) {
			if c := closest(p.k.Value, topKeys); c != "" {
				d.errorf(p.k, p.k.Value, "unknown top-level key %q (did you mean %q?)", p.k.Value, c)
			} else {
				d.errorf(p.k, p.k.Value, "unknown top-level key %q; known keys: %s", p.k.Value, strings.Join(topKeys, ", "))
			}
			continue
		}
		byKey[p.k.Value] = p
	}
	return byKey
}

// loadSettings decodes the daemon-wide settings, which one file only may
// declare.
func (l *loader) loadSettings(d *decoder, p pair) {
	if l.settings.File != "" {
		d.errorf(p.k, "settings", "settings already declared at %s; declare them in one file only", l.settings)
		return
	}
	l.settings = d.pos(p.k)
	l.cfg.Settings.Pos = l.settings
	d.decode(p.v, reflect.ValueOf(&l.cfg.Settings).Elem(), "settings")
	for name, t := range l.cfg.Settings.APITokens {
		t.Name = name
	}
}

// projectOf returns the project a file adds to, created on its first
// file; nil when the file names none (reported when it declares kinds)
// or names it wrongly.
func (l *loader) projectOf(d *decoder, byKey map[string]pair) *Project {
	pp, hasProject := byKey["project"]
	if !hasProject {
		for _, k := range topKeys[1 : len(topKeys)-1] {
			if p, ok := byKey[k]; ok {
				d.errorf(p.k, "project", "missing top-level key \"project\": a file that declares %s must say which project (project: NAME)", k)
				break
			}
		}
		return nil
	}
	vn := d.visit(pp.v)
	if vn == nil {
		return nil
	}
	if isNull(vn) || (vn.Kind == yaml.ScalarNode && vn.Tag == "!!str" && vn.Value == "") {
		d.errorf(vn, "project", "missing project name")
		return nil
	}
	var pname string
	d.decode(vn, reflect.ValueOf(&pname).Elem(), "project")
	switch {
	case pname == "":
		return nil
	case !validName(pname):
		d.errorf(vn, "project", "invalid name %q: names must match %s", pname, namePattern)
		return nil
	}
	proj := l.cfg.Projects[pname]
	if proj == nil {
		proj = &Project{Name: pname, Pos: d.pos(vn)}
		l.cfg.Projects[pname] = proj
	}
	return proj
}

// loadProjectFields decodes a project's own scalar fields, each of which
// one file only may declare.
func (l *loader) loadProjectFields(d *decoder, proj *Project, byKey map[string]pair) {
	base := "projects." + proj.Name
	if p, ok := byKey["description"]; ok {
		if first, dup := l.projDesc[proj.Name]; dup {
			d.errorf(p.k, base+".description", "description of project %q already declared at %s", proj.Name, first)
		} else {
			l.projDesc[proj.Name] = d.pos(p.k)
			d.decode(p.v, reflect.ValueOf(&proj.Description).Elem(), base+".description")
		}
	}
	if p, ok := byKey["max_parallel_tasks"]; ok {
		if first, dup := l.projMax[proj.Name]; dup {
			d.errorf(p.k, base+".max_parallel_tasks", "max_parallel_tasks of project %q already declared at %s", proj.Name, first)
		} else {
			l.projMax[proj.Name] = d.pos(p.k)
			l.fieldPos[fieldKey{reflect.ValueOf(proj).Pointer(), reflect.TypeFor[Project](), "max_parallel_tasks"}] = d.pos(p.v)
			d.decode(p.v, reflect.ValueOf(&proj.MaxParallelTasks).Elem(), base+".max_parallel_tasks")
		}
	}
}

// loadKinds decodes a file's objects of each kind into its project,
// reporting a name declared twice with both places.
func (l *loader) loadKinds(d *decoder, proj *Project, byKey map[string]pair) {
	base := "projects." + proj.Name
	pv := reflect.ValueOf(proj).Elem()
	for _, kind := range projectKinds {
		p, ok := byKey[kind]
		if !ok {
			continue
		}
		field := pv.FieldByName(fieldNameOf(kind))
		fresh := reflect.New(field.Type()).Elem()
		d.decode(p.v, fresh, base+"."+kind)
		if fresh.IsNil() {
			continue
		}
		if field.IsNil() {
			field.Set(reflect.MakeMap(field.Type()))
		}
		keys := fresh.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			nv := fresh.MapIndex(k)
			if old := field.MapIndex(k); old.IsValid() {
				oldPos := old.Elem().FieldByName("Pos").Interface().(Pos)
				newPos := nv.Elem().FieldByName("Pos").Interface().(Pos)
				l.errs.add(newPos, base+"."+kind+"."+k.String(), "%s %q already declared at %s", kindSingular[kind], k.String(), oldPos)
				continue
			}
			field.SetMapIndex(k, nv)
		}
	}
}

func fieldNameOf(kind string) string {
	switch kind {
	case "repositories":
		return "Repositories"
	case "keys":
		return "Keys"
	case "inventories":
		return "Inventories"
	case "environments":
		return "Environments"
	case "templates":
		return "Templates"
	case "schedules":
		return "Schedules"
	case "integrations":
		return "Integrations"
	case "notifications":
		return "Notifications"
	}
	return ""
}

// NotDeclaration returns why the YAML text data would be skipped by Load
// as not a declaration (see the package documentation for the rule), or
// "" when Load reads it as a declaration (or reports it as a broken one).
func NotDeclaration(data []byte) string {
	return parseFile("", data).skip
}
