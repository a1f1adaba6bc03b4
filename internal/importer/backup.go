package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// This file holds the Semaphore UI backup format (services/project/types.go
// upstream: each object is its db model with the fields tagged backup:"-"
// left out and the references replaced by names) and its decoding.

// Backup is a decoded Semaphore UI project backup.
type Backup struct {
	Meta               Meta          `json:"meta"`
	Templates          []Template    `json:"templates"`
	Repositories       []Repository  `json:"repositories"`
	Keys               []AccessKey   `json:"keys"`
	Views              []View        `json:"views"`
	Inventories        []Inventory   `json:"inventories"`
	Environments       []Environment `json:"environments"`
	Integrations       []Integration `json:"integrations"`
	IntegrationAliases []string      `json:"integration_aliases"`
	// Schedules is the section newer Semaphore versions add (2025; the
	// code this importer follows carries one cron per template instead).
	// Its shape follows the other sections: db.Schedule's exported fields
	// with the template by name.
	Schedules []Schedule `json:"schedules"`

	// Unknown lists the fields the importer does not know, by JSON path,
	// with their raw values; they are reported, never silently dropped.
	Unknown []UnknownField `json:"-"`
}

// UnknownField is a field of the backup the importer does not know.
type UnknownField struct {
	Path  string
	Value string
}

// Meta is the project itself (db.Project).
type Meta struct {
	Name             string  `json:"name"`
	Alert            bool    `json:"alert"`
	AlertChat        *string `json:"alert_chat"`
	MaxParallelTasks int     `json:"max_parallel_tasks"`
	Type             string  `json:"type"`
}

// SurveyVar is a variable Semaphore asks for when a task starts.
type SurveyVar struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Required    bool   `json:"required"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Values      []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"values"`
}

// TemplateVault is an ansible-vault password of a template.
type TemplateVault struct {
	Name     *string `json:"name"`
	VaultKey string  `json:"vault_key"`
}

// Template is a Semaphore task template (db.Template plus names).
type Template struct {
	Name                    string          `json:"name"`
	Playbook                string          `json:"playbook"`
	Arguments               *string         `json:"arguments"`
	AllowOverrideArgsInTask bool            `json:"allow_override_args_in_task"`
	Description             *string         `json:"description"`
	Type                    string          `json:"type"`
	StartVersion            *string         `json:"start_version"`
	Autorun                 bool            `json:"autorun"`
	GitBranch               *string         `json:"git_branch"`
	SurveyVars              []SurveyVar     `json:"survey_vars"`
	SuppressSuccessAlerts   bool            `json:"suppress_success_alerts"`
	App                     string          `json:"app"`
	Inventory               *string         `json:"inventory"`
	Repository              string          `json:"repository"`
	Environment             *string         `json:"environment"`
	BuildTemplate           *string         `json:"build_template"`
	View                    *string         `json:"view"`
	Vaults                  []TemplateVault `json:"vaults"`
	Cron                    *string         `json:"cron"`
	// VaultKey is the single vault key of backups made before vaults.
	VaultKey *string `json:"vault_key"`
}

// Repository is a git repository (db.Repository plus its key's name).
type Repository struct {
	Name      string  `json:"name"`
	GitURL    string  `json:"git_url"`
	GitBranch string  `json:"git_branch"`
	SSHKey    *string `json:"ssh_key"`
}

// AccessKey is a credential; the backup holds its name and type only.
type AccessKey struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Schedule is a cron schedule of a template (db.Schedule plus names).
type Schedule struct {
	Name       string `json:"name"`
	CronFormat string `json:"cron_format"`
	Active     *bool  `json:"active"`
	Template   string `json:"template"`
}

// View is a tab grouping templates in Semaphore's UI.
type View struct {
	Title    string `json:"title"`
	Position int    `json:"position"`
}

// Inventory is an ansible inventory or a terraform workspace.
type Inventory struct {
	Name      string  `json:"name"`
	Inventory string  `json:"inventory"`
	Type      string  `json:"type"`
	SSHKey    *string `json:"ssh_key"`
	BecomeKey *string `json:"become_key"`
}

// Environment holds extra vars (JSON), environment variables (JSON) and
// the deprecated vault password.
type Environment struct {
	Name     string  `json:"name"`
	Password *string `json:"password"`
	JSON     string  `json:"json"`
	ENV      *string `json:"env"`
}

// IntegrationMatcher selects the requests an integration accepts.
type IntegrationMatcher struct {
	Name         string `json:"name"`
	MatchType    string `json:"match_type"`
	Method       string `json:"method"`
	BodyDataType string `json:"body_data_type"`
	Key          string `json:"key"`
	Value        string `json:"value"`
}

// IntegrationExtractValue turns a request value into a task variable.
type IntegrationExtractValue struct {
	Name         string `json:"name"`
	ValueSource  string `json:"value_source"`
	BodyDataType string `json:"body_data_type"`
	Key          string `json:"key"`
	Variable     string `json:"variable"`
}

// Integration is an incoming webhook that runs a template.
type Integration struct {
	Name          string                    `json:"name"`
	AuthMethod    string                    `json:"auth_method"`
	AuthHeader    string                    `json:"auth_header"`
	Searchable    bool                      `json:"searchable"`
	TaskParams    map[string]any            `json:"task_params"`
	Aliases       []string                  `json:"aliases"`
	Matchers      []IntegrationMatcher      `json:"matchers"`
	ExtractValues []IntegrationExtractValue `json:"extract_values"`
	Template      string                    `json:"template"`
	AuthSecret    *string                   `json:"auth_secret"`
}

// ErrMalformed is wrapped by every error ParseSemaphore returns for a
// document that is not a valid backup.
var ErrMalformed = errors.New("malformed Semaphore backup")

// PathError is a problem at a JSON path of the backup.
type PathError struct {
	Path string // "$.templates[2].arguments"
	Msg  string
}

func (e *PathError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *PathError) Unwrap() error { return ErrMalformed }

// ParseSemaphore decodes a Semaphore UI project backup and checks it: every
// value of the expected JSON type, every object named, names unique within
// their kind, every reference naming an object of the backup. Fields it
// does not know are kept in Backup.Unknown. A problem is a *PathError
// naming where it is.
func ParseSemaphore(data []byte) (*Backup, error) {
	d := &decoder{}
	var b Backup
	if err := d.object(data, "$", &b); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	b.Unknown = d.unknown
	return &b, nil
}

// decoder decodes objects field by field so that an error names its path
// and so that unknown fields are collected.
type decoder struct {
	unknown []UnknownField
}

// object decodes the JSON object raw into the struct dst points to.
func (d *decoder) object(raw []byte, path string, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return &PathError{Path: path, Msg: "empty document"}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineCol(raw, syn.Offset)
			return &PathError{Path: path, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, syn)}
		}
		return &PathError{Path: path, Msg: "want an object, got " + jsonKind(raw)}
	}
	if fields == nil { // null
		return nil
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	known := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = true
		fraw, ok := fields[name]
		if !ok {
			continue
		}
		if err := d.value(fraw, path+"."+name, v.Field(i)); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !known[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		d.unknown = append(d.unknown, UnknownField{Path: path + "." + name, Value: compact(fields[name])})
	}
	return nil
}

// value decodes raw into v: structs and slices of structs field by field,
// everything else with encoding/json.
func (d *decoder) value(raw json.RawMessage, path string, v reflect.Value) error {
	isNull := string(bytes.TrimSpace(raw)) == "null"
	switch {
	case v.Kind() == reflect.Struct:
		if isNull {
			return nil
		}
		return d.object(raw, path, v.Addr().Interface())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		if isNull {
			return nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return &PathError{Path: path, Msg: "want an array, got " + jsonKind(raw)}
		}
		s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		for i, e := range elems {
			ep := fmt.Sprintf("%s[%d]", path, i)
			if string(bytes.TrimSpace(e)) == "null" {
				return &PathError{Path: ep, Msg: "want an object, got null"}
			}
			if err := d.object(e, ep, s.Index(i).Addr().Interface()); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			p := path
			if te.Field != "" && v.Kind() != reflect.Slice && v.Kind() != reflect.Map {
				p += "." + te.Field
			}
			return &PathError{Path: p, Msg: fmt.Sprintf("want %s, got %s", goKind(v.Type()), jsonKind(raw))}
		}
		return &PathError{Path: path, Msg: err.Error()}
	}
	return nil
}

// goKind names the JSON type a Go type decodes from.
func goKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(goKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsonKind names the JSON type of raw.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// check verifies names and references, reporting the first problem.
func (b *Backup) check() error {
	if strings.TrimSpace(b.Meta.Name) == "" {
		return &PathError{Path: "$.meta.name", Msg: "missing project name (is this a Semaphore project backup?)"}
	}
	if b.Meta.MaxParallelTasks < 0 {
		return &PathError{Path: "$.meta.max_parallel_tasks", Msg: fmt.Sprintf("must not be negative, got %d", b.Meta.MaxParallelTasks)}
	}
	keys, err := names("keys", b.Keys, func(k AccessKey) string { return k.Name })
	if err != nil {
		return err
	}
	repos, err := names("repositories", b.Repositories, func(r Repository) string { return r.Name })
	if err != nil {
		return err
	}
	invs, err := names("inventories", b.Inventories, func(i Inventory) string { return i.Name })
	if err != nil {
		return err
	}
	envs, err := names("environments", b.Environments, func(e Environment) string { return e.Name })
	if err != nil {
		return err
	}
	views, err := names("views", b.Views, func(v View) string { return v.Title })
	if err != nil {
		return err
	}
	tpls, err := names("templates", b.Templates, func(t Template) string { return t.Name })
	if err != nil {
		return err
	}
	if _, err := names("integrations", b.Integrations, func(i Integration) string { return i.Name }); err != nil {
		return err
	}
	for i, k := range b.Keys {
		if !slices.Contains([]string{"ssh", "login_password", "none", "string"}, k.Type) {
			return &PathError{Path: fmt.Sprintf("$.keys[%d].type", i), Msg: fmt.Sprintf("unknown key type %q (want ssh, login_password, string or none)", k.Type)}
		}
	}
	refTo := func(path, kind string, set map[string]bool, name *string) error {
		if name != nil && *name != "" && !set[*name] {
			return &PathError{Path: path, Msg: fmt.Sprintf("no %s named %q in $.%s", singular[kind], *name, kind)}
		}
		return nil
	}
	for i, r := range b.Repositories {
		p := fmt.Sprintf("$.repositories[%d]", i)
		if r.GitURL == "" {
			return &PathError{Path: p + ".git_url", Msg: "missing"}
		}
		if err := refTo(p+".ssh_key", "keys", keys, r.SSHKey); err != nil {
			return err
		}
	}
	for i, inv := range b.Inventories {
		p := fmt.Sprintf("$.inventories[%d]", i)
		if !slices.Contains([]string{"static", "static-yaml", "file", "terraform-workspace", "tofu-workspace", "none", ""}, inv.Type) {
			return &PathError{Path: p + ".type", Msg: fmt.Sprintf("unknown inventory type %q (want static, static-yaml, file, terraform-workspace, tofu-workspace or none)", inv.Type)}
		}
		if err := refTo(p+".ssh_key", "keys", keys, inv.SSHKey); err != nil {
			return err
		}
		if err := refTo(p+".become_key", "keys", keys, inv.BecomeKey); err != nil {
			return err
		}
	}
	for i, t := range b.Templates {
		p := fmt.Sprintf("$.templates[%d]", i)
		if t.Repository == "" {
			return &PathError{Path: p + ".repository", Msg: "missing"}
		}
		for _, r := range []struct {
			field, kind string
			set         map[string]bool
			name        *string
		}{
			{"repository", "repositories", repos, &t.Repository},
			{"inventory", "inventories", invs, t.Inventory},
			{"environment", "environments", envs, t.Environment},
			{"view", "views", views, t.View},
			{"build_template", "templates", tpls, t.BuildTemplate},
			{"vault_key", "keys", keys, t.VaultKey},
		} {
			if err := refTo(p+"."+r.field, r.kind, r.set, r.name); err != nil {
				return err
			}
		}
		for j, v := range t.Vaults {
			if err := refTo(fmt.Sprintf("%s.vaults[%d].vault_key", p, j), "keys", keys, &v.VaultKey); err != nil {
				return err
			}
		}
		if t.Arguments != nil && strings.TrimSpace(*t.Arguments) != "" {
			if _, err := parseArguments(*t.Arguments); err != nil {
				return &PathError{Path: p + ".arguments", Msg: err.Error()}
			}
		}
	}
	for i, e := range b.Environments {
		p := fmt.Sprintf("$.environments[%d]", i)
		if _, err := jsonObject(e.JSON); err != nil {
			return &PathError{Path: p + ".json", Msg: "extra variables: " + err.Error()}
		}
		if e.ENV != nil {
			if _, err := jsonObject(*e.ENV); err != nil {
				return &PathError{Path: p + ".env", Msg: "environment variables: " + err.Error()}
			}
		}
	}
	for i, sc := range b.Schedules {
		p := fmt.Sprintf("$.schedules[%d]", i)
		if sc.Template == "" {
			return &PathError{Path: p + ".template", Msg: "missing"}
		}
		if err := refTo(p+".template", "templates", tpls, &sc.Template); err != nil {
			return err
		}
	}
	for i, in := range b.Integrations {
		p := fmt.Sprintf("$.integrations[%d]", i)
		if in.Template == "" {
			return &PathError{Path: p + ".template", Msg: "missing"}
		}
		if err := refTo(p+".template", "templates", tpls, &in.Template); err != nil {
			return err
		}
		if err := refTo(p+".auth_secret", "keys", keys, in.AuthSecret); err != nil {
			return err
		}
	}
	return nil
}

// singular names one object of each section of the backup.
var singular = map[string]string{
	"keys":         "key",
	"repositories": "repository",
	"inventories":  "inventory",
	"environments": "environment",
	"views":        "view",
	"templates":    "template",
}

// names returns the set of names of a kind, refusing an empty or
// duplicate one.
func names[T any](kind string, items []T, name func(T) string) (map[string]bool, error) {
	set := make(map[string]bool, len(items))
	field := "name"
	if kind == "views" {
		field = "title"
	}
	for i, it := range items {
		n := name(it)
		p := fmt.Sprintf("$.%s[%d].%s", kind, i, field)
		if strings.TrimSpace(n) == "" {
			return nil, &PathError{Path: p, Msg: "missing"}
		}
		if set[n] {
			return nil, &PathError{Path: p, Msg: fmt.Sprintf("duplicate name %q in $.%s", n, kind)}
		}
		set[n] = true
	}
	return set, nil
}

// parseArguments decodes a template's arguments: a JSON array of strings.
func parseArguments(s string) ([]string, error) {
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		return nil, fmt.Errorf("want a JSON array of strings such as [\"-v\"], got %q", s)
	}
	return args, nil
}

// jsonObject decodes a JSON object held in a string; "" is an empty one.
func jsonObject(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind([]byte(strings.TrimSpace(s))))
	}
	return m, nil
}
