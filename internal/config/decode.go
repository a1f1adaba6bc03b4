package config

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"filippo.io/age/armor"
	"gopkg.in/yaml.v3"
)

// maxNodeVisits bounds the YAML nodes one file may expand to, counting
// every alias expansion, so an "alias bomb" (a billion laughs) ends with an
// error instead of exhausting memory.
const maxNodeVisits = 500_000

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	posType      = reflect.TypeFor[Pos]()
)

// fieldKey names one field of one decoded struct, to find where it was
// written when validation reports a problem with it.
type fieldKey struct {
	ptr   uintptr
	typ   reflect.Type
	field string
}

// decoder turns yaml.v3 nodes of one file into the declaration types,
// strictly: unknown keys, wrong types, invalid enum values and duplicate
// keys are all reported, and decoding goes on past each problem.
type decoder struct {
	file     string
	errs     *errs
	fieldPos map[fieldKey]Pos      // explicit positions, for values decoded outside a struct
	nodes    map[fieldKey]fileNode // the node each struct (field "") was decoded from
	bad      map[fieldKey]bool     // fields whose value was refused while decoding
	fields   map[reflect.Type]*structInfo
	// keep holds every decoded struct until the load ends, so that no
	// address in fieldPos or bad is reused by a later allocation (objects
	// dropped as duplicates would otherwise be freed).
	keep   *[]any
	visits int
	bombed bool
}

// fileNode is a YAML node and the file it is in.
type fileNode struct {
	file string
	n    *yaml.Node
}

type structInfo struct {
	byName map[string]int // yaml name to field index
	names  []string       // sorted yaml names
	posIdx int            // index of the Pos field, or -1
	nameIx int            // index of the Name field, or -1
}

func (d *decoder) info(t reflect.Type) *structInfo {
	if si, ok := d.fields[t]; ok {
		return si
	}
	si := &structInfo{byName: map[string]int{}, posIdx: -1, nameIx: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case f.Type == posType:
			si.posIdx = i
		case f.Name == "Name" && tag == "-":
			si.nameIx = i
		case tag != "" && tag != "-":
			si.byName[tag] = i
			si.names = append(si.names, tag)
		}
	}
	sort.Strings(si.names)
	d.fields[t] = si
	return si
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs.add(d.pos(n), path, format, args...)
}

// visit follows aliases and counts the node against the file's budget. It
// returns nil once the budget is spent.
func (d *decoder) visit(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
		d.visits++
	}
	d.visits++
	if d.visits > maxNodeVisits {
		if !d.bombed {
			d.bombed = true
			d.errs.add(Pos{File: d.file, Line: 1, Col: 1}, "", "anchors and aliases expand to more than %d nodes; refusing an alias bomb", maxNodeVisits)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		}
		return "a scalar (" + n.Tag + ")"
	}
	return "something else"
}

type pair struct{ k, v *yaml.Node }

// pairs lists the entries of a mapping, with "<<" merge keys expanded:
// explicit keys win over merged ones; duplicates among explicit keys are
// reported.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var merged, explicit []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(v, path)...)
			continue
		}
		if k = d.visit(k); k == nil {
			return nil
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "a key must be a string, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, join(path, k.Value), "duplicate key %q (first at %s)", k.Value, d.pos(first))
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, pair{k, v})
	}
	out := explicit
	mseen := map[string]bool{}
	for _, p := range merged {
		if _, ok := seen[p.k.Value]; ok || mseen[p.k.Value] {
			continue
		}
		mseen[p.k.Value] = true
		out = append(out, p)
	}
	return out
}

func (d *decoder) mergePairs(v *yaml.Node, path string) []pair {
	if v = d.visit(v); v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, path)
	case yaml.SequenceNode:
		var out []pair
		for _, e := range v.Content {
			out = append(out, d.mergePairs(e, path)...)
		}
		return out
	}
	d.errorf(v, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(v))
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = d.visit(n); n == nil {
		return
	}
	t := v.Type()
	if isNull(n) && t != secretType {
		return // an empty value leaves the default
	}
	switch t {
	case secretType:
		d.decodeSecret(n, v, path)
		return
	case durationType:
		switch {
		case n.Kind == yaml.ScalarNode && n.Tag == "!!int" && n.Value == "0":
			v.SetInt(0)
		case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
			dur, err := ParseDuration(n.Value)
			if err != nil {
				d.errorf(n, path, "%v", err)
				return
			}
			v.SetInt(int64(dur))
		default:
			d.errorf(n, path, "expected a duration like 90s or 1h, got %s", describe(n))
		}
		return
	case byteSizeType:
		switch {
		case n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!str"):
			b, err := ParseByteSize(n.Value)
			if err != nil {
				d.errorf(n, path, "%v", err)
				return
			}
			v.SetInt(int64(b))
		default:
			d.errorf(n, path, "expected a byte size like 64MiB, got %s", describe(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		if et := t.Elem(); et.Kind() == reflect.Struct && et != secretType && n.Kind != yaml.MappingNode {
			// Leave the pointer nil: there is nothing to validate.
			d.errorf(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if el := s.Index(i); el.Kind() == reflect.Struct {
				d.nodes[fieldKey{el.Addr().Pointer(), el.Type(), ""}] = fileNode{d.file, e}
			}
			d.decode(e, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (quote it: %q)", n.Value)
			}
			d.errorf(n, path, "expected a string, got %s%s", describe(n), hint)
			return
		}
		if allowed := enumValues(t); allowed != nil && !contains(allowed, n.Value) {
			d.errorf(n, path, "invalid value %q: must be one of %s", n.Value, strings.Join(allowed, ", "))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			d.errorf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Interface:
		if x, ok := d.toAny(n, path); ok {
			v.Set(reflect.ValueOf(&x).Elem())
		}
	default:
		d.errorf(n, path, "internal: cannot decode into %s", t)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	si := d.info(v.Type())
	if si.posIdx >= 0 && v.Field(si.posIdx).Interface().(Pos).File == "" {
		v.Field(si.posIdx).Set(reflect.ValueOf(d.pos(n)))
	}
	ptr := v.Addr().Pointer()
	*d.keep = append(*d.keep, v.Addr().Interface())
	d.nodes[fieldKey{ptr, v.Type(), ""}] = fileNode{d.file, n}
	for _, p := range d.pairs(n, path) {
		name := p.k.Value
		idx, ok := si.byName[name]
		if !ok {
			if s := closest(name, si.names); s != "" {
				d.errorf(p.k, join(path, name), "unknown key %q (did you mean %q?)", name, s)
			} else {
				d.errorf(p.k, join(path, name), "unknown key %q; known keys: %s", name, strings.Join(si.names, ", "))
			}
			continue
		}
		vn := p.v
		if a := d.visit(vn); a != nil {
			vn = a
		} else {
			return
		}
		fk := fieldKey{ptr, v.Type(), name}
		before := len(d.errs.list)
		d.decode(vn, v.Field(idx), join(path, name))
		if len(d.errs.list) > before {
			d.bad[fk] = true
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	et := t.Elem()
	named := et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct && d.info(et.Elem()).nameIx >= 0
	envKeys := et.Kind() == reflect.String || et == secretType
	plainStrings := et == reflect.TypeFor[string]()
	for _, p := range d.pairs(n, path) {
		key := p.k.Value
		kp := join(path, key)
		switch {
		case named && !validName(key):
			d.errorf(p.k, kp, "invalid name %q: names must match %s", key, namePattern)
			continue
		case envKeys && !validEnvName(key):
			d.errorf(p.k, kp, "invalid environment variable name %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", key)
			continue
		}
		ev := reflect.New(et).Elem()
		if named {
			obj := reflect.New(et.Elem())
			si := d.info(et.Elem())
			obj.Elem().Field(si.nameIx).SetString(key)
			obj.Elem().Field(si.posIdx).Set(reflect.ValueOf(d.pos(p.k)))
			if ps, ok := obj.Interface().(interface{ presetDefaults() }); ok {
				ps.presetDefaults()
			}
			vn := d.visit(p.v)
			if vn == nil {
				return
			}
			if isNull(vn) {
				vn = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: vn.Line, Column: vn.Column}
			}
			if vn.Kind != yaml.MappingNode {
				// Keep the object so references to it resolve, but do
				// not validate what could not be read.
				d.bad[fieldKey{obj.Pointer(), et.Elem(), ""}] = true
			}
			d.decode(vn, obj.Elem(), kp)
			ev.Set(obj)
		} else if vn := d.visit(p.v); vn == nil {
			return
		} else if plainStrings && vn.Kind == yaml.ScalarNode && (vn.Tag == "!!int" || vn.Tag == "!!float" || vn.Tag == "!!bool") {
			// Environment variables are text: PORT: 8080 means "8080".
			ev.SetString(vn.Value)
		} else {
			d.decode(vn, ev, kp)
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
	}
}

func (d *decoder) decodeSecret(n *yaml.Node, v reflect.Value, path string) {
	const how = "write {env: NAME}, {file: PATH} or {age: ...}"
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		d.errorf(n, path, "empty secret reference: %s", how)
		return
	case n.Kind == yaml.ScalarNode:
		d.errorf(n, path, "clear-text secret: %s", how)
		return
	case n.Kind != yaml.MappingNode:
		d.errorf(n, path, "expected a secret reference, got %s: %s", describe(n), how)
		return
	}
	var s Secret
	s.Pos = d.pos(n)
	var set []string
	unknown := false
	for _, p := range d.pairs(n, path) {
		vn := d.visit(p.v)
		if vn == nil {
			return
		}
		kp := join(path, p.k.Value)
		if p.k.Value == "env" || p.k.Value == "file" || p.k.Value == "age" {
			if vn.Kind != yaml.ScalarNode || vn.Tag != "!!str" {
				d.errorf(vn, kp, "expected a string, got %s", describe(vn))
				set = append(set, p.k.Value)
				continue
			}
			if vn.Value == "" {
				d.errorf(vn, kp, "must not be empty")
				set = append(set, p.k.Value)
				continue
			}
		}
		switch p.k.Value {
		case "env":
			if !validEnvName(vn.Value) {
				d.errorf(vn, kp, "invalid environment variable name %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", vn.Value)
			}
			s.Env = vn.Value
		case "file":
			s.File = vn.Value
		case "age":
			if err := checkArmor(vn.Value); err != nil {
				d.errorf(vn, kp, "%v", err)
			}
			s.Age = vn.Value
		default:
			if c := closest(p.k.Value, []string{"env", "file", "age"}); c != "" {
				d.errorf(p.k, kp, "unknown key %q (did you mean %q?)", p.k.Value, c)
			} else {
				d.errorf(p.k, kp, "unknown key %q: a secret reference takes env, file or age", p.k.Value)
			}
			unknown = true
			continue
		}
		set = append(set, p.k.Value)
	}
	switch len(set) {
	case 0:
		if !unknown {
			d.errorf(n, path, "empty secret reference: %s", how)
		}
	case 1:
	default:
		d.errorf(n, path, "a secret reference takes exactly one of env, file, age; got %s", strings.Join(set, " and "))
	}
	v.Set(reflect.ValueOf(s))
}

// checkArmor checks that an {age: ...} value is well-formed armored age
// ciphertext, without decrypting it.
func checkArmor(s string) error {
	if !strings.HasPrefix(strings.TrimSpace(s), armor.Header) {
		return fmt.Errorf("not an armored age value: it must start with %q (age -a -r RECIPIENT)", armor.Header)
	}
	if _, err := io.Copy(io.Discard, armor.NewReader(strings.NewReader(strings.TrimSpace(s)))); err != nil {
		return fmt.Errorf("malformed armored age value: the armor does not decode")
	}
	return nil
}

// toAny turns a node into a JSON-like value: maps with string keys, lists,
// strings, int64/float64 numbers, booleans and nil. Timestamps and other
// tagged scalars stay the string they were written as.
func (d *decoder) toAny(n *yaml.Node, path string) (any, bool) {
	if n = d.visit(n); n == nil {
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			_ = n.Decode(&b)
			return b, true
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i, true
			}
			var f float64
			if n.Decode(&f) == nil {
				return f, true
			}
			return n.Value, true
		case "!!float":
			var f float64
			if n.Decode(&f) != nil || f != f || f > 1e308 || f < -1e308 {
				d.errorf(n, path, "%q is not a number JSON can carry", n.Value)
				return nil, false
			}
			return f, true
		default:
			if !utf8.ValidString(n.Value) {
				d.errorf(n, path, "binary values are not supported")
				return nil, false
			}
			return n.Value, true
		}
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			x, ok := d.toAny(e, path+"["+strconv.Itoa(i)+"]")
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, p := range d.pairs(n, path) {
			x, ok := d.toAny(p.v, join(path, p.k.Value))
			if !ok {
				return nil, false
			}
			out[p.k.Value] = x
		}
		return out, true
	}
	d.errorf(n, path, "unexpected %s", describe(n))
	return nil, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// enums lists the allowed values of each enum type (read-only).
var enums = map[reflect.Type][]string{
	reflect.TypeFor[Scope]():               {"read", "run", "admin"},
	reflect.TypeFor[ForgeType]():           {"github", "gitlab", "gitea"},
	reflect.TypeFor[KeyType]():             {"ssh", "login_password", "token", "none"},
	reflect.TypeFor[InventoryType]():       {"static", "static_yaml", "file", "none"},
	reflect.TypeFor[App]():                 {"ansible", "terraform", "tofu", "bash", "python", "powershell"},
	reflect.TypeFor[Override]():            {"vars", "branch", "commit", "arguments", "limit", "tags", "skip_tags", "dry_run", "workspace"},
	reflect.TypeFor[PRMode]():              {"check", "plan"},
	reflect.TypeFor[IntegrationAuthType](): {"hmac", "token", "none"},
	reflect.TypeFor[NotificationType]():    {"slack", "teams", "telegram", "email", "webhook"},
	reflect.TypeFor[NotifyOn]():            {"failure", "recovery", "end"},
	reflect.TypeFor[Overlap]():             {"skip", "queue"},
	reflect.TypeFor[CatchUp]():             {"none", "last"},
}

// enumValues lists the allowed values of an enum type, or nil.
func enumValues(t reflect.Type) []string { return enums[t] }

// namePattern is what every declared name must match.
const namePattern = "^[a-z0-9][a-z0-9._-]{0,62}$"

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

// findValue returns the value node of key in mapping n, explicit keys
// first, then "<<" merges (to a bounded depth).
func findValue(n *yaml.Node, key string, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || depth > 8 {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		for _, e := range n.Content {
			if v := findValue(e, key, depth+1); v != nil {
				return v
			}
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag != "!!merge" && k.Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			if v := findValue(n.Content[i+1], key, depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

// expandedSize counts the nodes n expands to with every alias followed,
// stopping at limit+1. Aliases point at anchored nodes only, so memoizing
// those makes it linear in the distinct nodes: an alias bomb is measured
// without being expanded. An alias inside its own anchor counts as too
// large.
func expandedSize(n *yaml.Node, limit int, memo map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if n.Anchor != "" {
		if v, ok := memo[n]; ok {
			if v < 0 {
				return limit + 1
			}
			return v
		}
		memo[n] = -1
	}
	total := 1
	if n.Kind == yaml.AliasNode {
		total += expandedSize(n.Alias, limit, memo)
	}
	for _, c := range n.Content {
		if total > limit {
			break
		}
		total += expandedSize(c, limit, memo)
	}
	total = min(total, limit+1)
	if n.Anchor != "" {
		memo[n] = total
	}
	return total
}
