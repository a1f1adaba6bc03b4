package config

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const schemaPath = "../../schema/semaphored.schema.json"

// fieldDocs reads the doc comments of the declaration types' fields from
// the Go source, so that the schema's descriptions follow types.go.
func fieldDocs(t testing.TB) map[string]string {
	t.Helper()
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range []string{"types.go", "secret.go", "notifications.go"} {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fl := range st.Fields.List {
				text := ""
				if fl.Doc != nil {
					text = fl.Doc.Text()
				} else if fl.Comment != nil {
					text = fl.Comment.Text()
				}
				text = strings.Join(strings.Fields(text), " ")
				for _, id := range fl.Names {
					if text != "" {
						docs[ts.Name.Name+"."+id.Name] = text
					}
				}
			}
			return false
		})
	}
	return docs
}

// extraDocs describes the fields types.go leaves without a comment.
var extraDocs = map[string]string{
	"Retention.KeepTasks":              "Keep at most this many finished tasks per template (default 100; 0: no limit).",
	"Retention.KeepDays":               "Prune finished tasks older than this many days (default 30; 0: no limit).",
	"APIToken.Token":                   "The bearer token, as a secret reference.",
	"APIToken.Scope":                   "What the token may do: read, run (includes read) or admin (includes run).",
	"Project.Description":              "A description of the project.",
	"Repository.Branch":                "The default branch (default \"main\").",
	"Forge.Type":                       "The forge: github, gitlab or gitea.",
	"Forge.Token":                      "API token for commit statuses, as a secret reference.",
	"Forge.WebhookSecret":              "Secret that authenticates the forge's webhooks, as a secret reference.",
	"Key.Type":                         "The kind of credential: ssh, login_password, token or none.",
	"Key.PrivateKey":                   "ssh: the private key (PEM/OpenSSH), as a secret reference. Required for ssh keys.",
	"Key.Passphrase":                   "ssh: the private key's passphrase, as a secret reference.",
	"Key.Login":                        "login_password: the login. Required for login_password keys.",
	"Key.Password":                     "login_password: the password, as a secret reference. Required for login_password keys.",
	"Key.Token":                        "token: the token, as a secret reference. Required for token keys.",
	"Inventory.Type":                   "Where the inventory comes from: static (INI text), static_yaml (YAML text), file (a path in a repository) or none.",
	"Inventory.Static":                 "static/static_yaml: the inventory text. Required for those types; static_yaml text must be a YAML mapping.",
	"Inventory.Repository":             "file: the repository holding the inventory (default: the template's).",
	"Inventory.Path":                   "file: the inventory's path in the repository. Required for file inventories.",
	"Template.Description":             "A description of the template.",
	"Template.App":                     "The tool the template runs: ansible, terraform, tofu, bash, python or powershell.",
	"Template.Repository":              "The repository (of this project) the template runs from. Required.",
	"Template.Inventory":               "ansible: the inventory (of this project) to run against.",
	"Template.Environment":             "The environment (of this project) the run gets.",
	"Template.AllowOverrides":          "Task parameters a caller may set: vars, branch, commit, arguments, limit, tags, skip_tags (ansible), dry_run, workspace (terraform/tofu).",
	"Template.Ansible":                 "ansible-playbook options; only on ansible templates.",
	"Template.Terraform":               "terraform/tofu options; only on terraform and tofu templates.",
	"Template.Triggers":                "Events that create tasks of this template.",
	"AnsibleOptions.Limit":             "--limit pattern.",
	"AnsibleOptions.Tags":              "--tags.",
	"AnsibleOptions.SkipTags":          "--skip-tags.",
	"AnsibleOptions.Check":             "Always run with --check.",
	"AnsibleOptions.Diff":              "Always run with --diff.",
	"TerraformOptions.Workspace":       "The workspace to select (created when missing).",
	"TerraformOptions.VarFiles":        "-var-file paths, relative to the directory.",
	"Triggers.Push":                    "Run on a push to the template's repository.",
	"Triggers.PullRequest":             "Run in check/plan mode on a pull request; never applies.",
	"Triggers.Schedule":                "Run on a cron schedule.",
	"PullRequestTrigger.Paths":         "Glob patterns (\"**\" allowed) of changed paths; empty means any change.",
	"ScheduleTrigger.Cron":             "A 5-field cron spec (min hour dom month dow) or a descriptor such as @daily or @every 1h.",
	"ScheduleTrigger.Timezone":         "IANA timezone the cron spec is read in (default UTC).",
	"Schedule.Cron":                    "A 5-field cron spec (min hour dom month dow) or a descriptor such as @daily or @every 1h.",
	"Schedule.Template":                "The template (of this project) to run. Required.",
	"Schedule.Vars":                    "Extra vars for the runs.",
	"Schedule.Branch":                  "Branch to run from instead of the repository's.",
	"Integration.Template":             "The template (of this project) to run. Required.",
	"Integration.Auth":                 "How requests prove themselves. Required.",
	"Integration.Matchers":             "All must match for a request to create a task.",
	"Integration.Extractors":           "Values of the request turned into task vars.",
	"IntegrationAuth.Type":             "hmac (HMAC-SHA256 of the body in Header), token (the secret in Header) or none.",
	"IntegrationAuth.Header":           "The request header carrying the signature or token. Required for hmac and token.",
	"IntegrationAuth.Secret":           "The HMAC key or token, as a secret reference. Required for hmac and token.",
	"Matcher.Header":                   "A request header to compare.",
	"Matcher.Body":                     "A dotted path into the JSON body to compare, e.g. alerts.0.status.",
	"Matcher.Equals":                   "The value the header or body path must equal.",
	"Extractor.Var":                    "The task var to set.",
	"Extractor.Header":                 "Take the value from this request header.",
	"Extractor.Body":                   "Take the value from this dotted path into the JSON body.",
	"Secret.Env":                       "The daemon's environment variable holding the value.",
	"Secret.File":                      "A file holding the value (one trailing newline trimmed).",
	"Secret.Age":                       "An age-encrypted, armored value (age -a -r RECIPIENT), decrypted with the daemon's identity.",
	"EnvironmentSecrets.Env":           "Secret environment variables, by reference.",
	"EnvironmentSecrets.Vars":          "Secret extra vars, by reference.",
	"Environment.Secrets":              "Secret environment variables and vars, by reference.",
	"Settings.Retention":               "How many finished tasks the state keeps (default 100 tasks, 30 days).",
	"Repository.Key":                   "A key (of this project) used to fetch: ssh for ssh URLs, login_password or token for http(s).",
	"Forge.APIURL":                     "The forge API URL; defaults to https://api.github.com for github, required for gitlab and gitea.",
	"Inventory.SSHKey":                 "A key of type ssh ansible connects to hosts with.",
	"Inventory.BecomeKey":              "A key of type login_password used for become (sudo).",
	"TerraformOptions.RequireApproval": "A plan with changes waits for confirmation before it is applied.",
	"TerraformOptions.PlanOnly":        "Never apply.",
	"PushTrigger.Branches":             "Glob patterns of branches (default: the repository's branch).",
	"PullRequestTrigger.Branches":      "Glob patterns of the pull request's base branch.",
	"PullRequestTrigger.Mode":          "plan (terraform/tofu, the default there) or check (others, the default there).",
	"Key.KnownHosts":                   "Path to a known_hosts file for host key checks (default: $SSH_KNOWN_HOSTS, then ~/.ssh/known_hosts).",
	"Key.InsecureIgnoreHostKey":        "Turn host key checking off (insecure).",
	"Key.User":                         "The ssh user for git (default \"git\") or the login for hosts.",
	"Schedule.Timezone":                "IANA timezone the cron spec is read in (default UTC).",
	"Schedule.Active":                  "Whether the schedule runs (default true).",
	"Template.Arguments":               "Extra arguments appended to the app's argument list.",
	"Template.Supersede":               "A newer request replaces older tasks of this template still waiting.",
	"AnsibleOptions.VaultPassword":     "Unlocks ansible-vault content, as a secret reference.",
	"AnsibleOptions.Requirements":      "The galaxy requirements file (default requirements.yml next to the playbook or at the root, when present).",
	"Settings.APITokens":               "Bearer tokens for the HTTP API, by name.",
	"APIToken.Projects":                "Limit the token to these projects; empty means all.",
	"Environment.Vars":                 "Extra vars (ansible --extra-vars, terraform variables), any JSON-like values.",
	"Environment.Env":                  "Plain environment variables.",
	"PushTrigger.Paths":                "Glob patterns (\"**\" allowed) of changed paths; empty means any change.",
	"Template.Timeout":                 "A run longer than this ends with status error \"timed out\" (default 1h).",
	"Settings.MaxLogBytes":             "Cap on the stored log of one task, as bytes or with a unit like 64MiB (default 64MiB).",
	"Settings.StopGracePeriod":         "Time between SIGTERM and SIGKILL when a run is stopped or times out (default 10s).",
	"Settings.DrainTimeout":            "On SIGTERM, how long running tasks may go on finishing before they are stopped; 0 stops them at once (default 15s).",
	"Settings.MaxParallelTasks":        "The global limit on tasks running at once (default 4).",
	"Template.Concurrency":             "How many tasks of this template run at once (default 1: one at a time, in order).",
	"Template.Directory":               "Working directory in the repository (default \".\"); terraform/tofu run there.",
	"Template.Playbook":                "ansible: the playbook path in the repository. Required for ansible templates.",
	"Template.Script":                  "bash/python/powershell: the script path in the repository. Required for those apps.",
	"Repository.URL":                   "https://, http://, ssh://, scp-like user@host:path, file://, or a local path (absolute, \".\", \"./...\", \"../...\"; relative to the config tree root).",
	"Repository.Forge":                 "Where commit statuses go and webhooks come from.",
	"Forge.Repo":                       "owner/name on the forge (GitLab: the project path); derived from the URL when empty.",
}

// schemaRequired lists the keys each type must have.
var schemaRequired = map[string][]string{
	"APIToken": {"token", "scope"}, "Repository": {"url"}, "Forge": {"type"}, "Key": {"type"},
	"Inventory": {"type"}, "Template": {"app", "repository"}, "ScheduleTrigger": {"cron"},
	"Schedule": {"cron", "template"}, "Integration": {"template", "auth"}, "IntegrationAuth": {"type"},
	"Extractor": {"var"}, "Notification": {"type"}, "EmailNotification": {"server", "from", "to"},
}

// schemaMinimum bounds integer fields.
var schemaMinimum = map[string]int{
	"Settings.MaxParallelTasks": 1, "Retention.KeepTasks": 0, "Retention.KeepDays": 0,
	"Template.Concurrency": 1,
}

func ifThen(prop, value string, then map[string]any) map[string]any {
	return map[string]any{
		"if":   map[string]any{"properties": map[string]any{prop: map[string]any{"const": value}}, "required": []string{prop}},
		"then": then,
	}
}

func ifIn(prop string, values []string, then map[string]any) map[string]any {
	return map[string]any{
		"if":   map[string]any{"properties": map[string]any{prop: map[string]any{"enum": values}}, "required": []string{prop}},
		"then": then,
	}
}

func req(keys ...string) map[string]any { return map[string]any{"required": keys} }

// schemaRules are the per-type rules beyond plain fields.
func schemaRules() map[string][]map[string]any {
	exactlyOne := []map[string]any{{"oneOf": []any{req("header"), req("body")}}}
	return map[string][]map[string]any{
		"Key": {
			ifThen("type", "ssh", req("private_key")),
			ifThen("type", "login_password", req("login", "password")),
			ifThen("type", "token", req("token")),
		},
		"Inventory": {
			ifIn("type", []string{"static", "static_yaml"}, req("static")),
			ifThen("type", "file", req("path")),
		},
		"Template": {
			ifThen("app", "ansible", req("playbook")),
			ifIn("app", []string{"bash", "python", "powershell"}, req("script")),
		},
		"IntegrationAuth": {ifIn("type", []string{"hmac", "token"}, req("header", "secret"))},
		"Forge":           {ifIn("type", []string{"gitlab", "gitea"}, req("api_url"))},
		"Notification": {
			ifIn("type", []string{"slack", "teams", "webhook"}, req("url")),
			ifThen("type", "telegram", req("bot_token", "chat_id")),
			ifThen("type", "email", req("email")),
		},
		"Matcher":   exactlyOne,
		"Extractor": exactlyOne,
	}
}

const (
	envPattern      = "^[A-Za-z_][A-Za-z0-9_]*$"
	durationPattern = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
	sizePattern     = "^[0-9]+ *(B|K|M|G|T|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$"
)

type schemaGen struct {
	docs map[string]string
	defs map[string]any
	miss []string
}

func (g *schemaGen) typeSchema(t reflect.Type, owner string) any {
	switch t {
	case secretType:
		return map[string]any{"$ref": "#/$defs/Secret"}
	case durationType:
		return map[string]any{"$ref": "#/$defs/Duration"}
	case byteSizeType:
		return map[string]any{"$ref": "#/$defs/ByteSize"}
	}
	if vals := enumValues(t); vals != nil {
		return map[string]any{"enum": vals}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem(), owner)
	case reflect.Struct:
		g.structDef(t)
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typeSchema(t.Elem(), owner)}
	case reflect.Map:
		m := map[string]any{"type": "object"}
		et := t.Elem()
		switch {
		case et.Kind() == reflect.Interface:
		case et == reflect.TypeFor[string]():
			// Environment variables: numbers and booleans are kept as written.
			m["propertyNames"] = map[string]any{"pattern": envPattern}
			m["additionalProperties"] = map[string]any{"type": []string{"string", "number", "boolean"}}
		case et == secretType:
			m["propertyNames"] = map[string]any{"pattern": envPattern}
			m["additionalProperties"] = g.typeSchema(et, owner)
		default:
			m["propertyNames"] = map[string]any{"$ref": "#/$defs/Name"}
			m["additionalProperties"] = g.typeSchema(et, owner)
		}
		return m
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}

func (g *schemaGen) structDef(t reflect.Type) {
	name := t.Name()
	if _, ok := g.defs[name]; ok || t == secretType {
		return
	}
	def := map[string]any{"type": "object", "additionalProperties": false}
	g.defs[name] = def
	props := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		s := g.typeSchema(f.Type, name).(map[string]any)
		key := name + "." + f.Name
		if _, ok := s["$ref"]; ok {
			s = map[string]any{"allOf": []any{s}}
		}
		if d := extraDocs[key]; d != "" {
			s["description"] = d
		} else if d := g.docs[key]; d != "" {
			s["description"] = d
		} else {
			g.miss = append(g.miss, key)
		}
		if m, ok := schemaMinimum[key]; ok {
			s["minimum"] = m
		}
		props[tag] = s
	}
	def["properties"] = props
	if r := schemaRequired[name]; r != nil {
		def["required"] = r
	}
	if rules := schemaRules()[name]; rules != nil {
		all := make([]any, len(rules))
		for i, r := range rules {
			all[i] = r
		}
		def["allOf"] = all
	}
}

// generateSchema builds the JSON Schema of one declaration file from the
// Go types.
func generateSchema(t testing.TB) []byte {
	t.Helper()
	g := &schemaGen{docs: fieldDocs(t), defs: map[string]any{}}
	mapOf := func(typ reflect.Type, desc string) map[string]any {
		m := g.typeSchema(typ, "").(map[string]any)
		m["description"] = desc
		return m
	}
	pt := reflect.TypeFor[Project]()
	field := func(n string) reflect.Type { f, _ := pt.FieldByName(n); return f.Type }
	props := map[string]any{
		"project":            map[string]any{"allOf": []any{map[string]any{"$ref": "#/$defs/Name"}}, "description": "The project this file declares or adds to. Required unless the file only holds settings."},
		"description":        map[string]any{"type": "string", "description": "A description of the project (once per project)."},
		"max_parallel_tasks": map[string]any{"type": "integer", "minimum": 0, "description": "The per-project limit on tasks running at once; 0 means only the global one."},
		"repositories":       mapOf(field("Repositories"), "Git repositories jobs run from, by name."),
		"keys":               mapOf(field("Keys"), "Credentials for git and hosts, by name."),
		"inventories":        mapOf(field("Inventories"), "Ansible inventories, by name."),
		"environments":       mapOf(field("Environments"), "Vars, environment variables and secrets a run gets, by name."),
		"templates":          mapOf(field("Templates"), "Jobs: an app run from a repository, by name."),
		"schedules":          mapOf(field("Schedules"), "Cron schedules of templates, by name."),
		"integrations":       mapOf(field("Integrations"), "Generic incoming webhooks that create tasks, by name."),
		"notifications":      mapOf(field("Notifications"), "Where messages about task ends go (slack, teams, telegram, email, webhook), by name."),
		"settings":           map[string]any{"allOf": []any{g.typeSchema(reflect.TypeFor[Settings](), "")}, "description": "Daemon-wide settings; in at most one file of the tree."},
	}
	deps := map[string]any{}
	for _, k := range topKeys {
		if k != "project" && k != "settings" {
			deps[k] = []string{"project"}
		}
	}
	g.defs["Name"] = map[string]any{"type": "string", "pattern": namePattern, "description": "A name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters."}
	g.defs["Duration"] = map[string]any{"description": "A Go duration such as 90s, 10m or 1h30m.", "anyOf": []any{
		map[string]any{"type": "string", "pattern": durationPattern}, map[string]any{"const": 0}}}
	g.defs["ByteSize"] = map[string]any{"description": "A size in bytes, or with a unit: 512KiB, 64MiB, 100MB.", "anyOf": []any{
		map[string]any{"type": "integer", "minimum": 0}, map[string]any{"type": "string", "pattern": sizePattern}}}
	g.defs["Secret"] = map[string]any{
		"description":          "A secret reference with exactly one key: {env: NAME}, {file: PATH} or {age: ARMORED}. Clear-text values are refused.",
		"type":                 "object",
		"additionalProperties": false,
		"minProperties":        1,
		"maxProperties":        1,
		"properties": map[string]any{
			"env":  map[string]any{"type": "string", "pattern": envPattern, "description": extraDocs["Secret.Env"]},
			"file": map[string]any{"type": "string", "minLength": 1, "description": extraDocs["Secret.File"]},
			"age":  map[string]any{"type": "string", "pattern": "^\\s*-----BEGIN AGE ENCRYPTED FILE-----", "description": extraDocs["Secret.Age"]},
		},
	}
	if len(g.miss) > 0 {
		sort.Strings(g.miss)
		t.Errorf("fields without a description (add a doc comment in types.go or an entry in extraDocs): %v", g.miss)
	}
	root := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/semaphored/semaphored/schema/semaphored.schema.json",
		"title":                "semaphored declaration file",
		"description":          "One YAML file of a semaphored config tree. Several files may add to one project.",
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props,
		"dependentRequired":    deps,
		"$defs":                g.defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSchemaUpToDate(t *testing.T) {
	want := generateSchema(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(schemaPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the Go types generate; run go test ./internal/config -run TestSchemaUpToDate -update", schemaPath)
	}
}

func readSchema(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return s
}

// TestSchemaMatchesTypes walks the Go types by reflection and checks that
// every yaml field has a property in the schema and every property a field.
func TestSchemaMatchesTypes(t *testing.T) {
	s := readSchema(t)
	defs := s["$defs"].(map[string]any)
	keysOf := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if got, want := keysOf(s["properties"]), append([]string(nil), topKeys...); !equalSets(got, want) {
		t.Errorf("top-level properties: got %v, want %v", got, want)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || rt == posType || seen[rt] {
			return
		}
		seen[rt] = true
		def, ok := defs[rt.Name()].(map[string]any)
		if !ok {
			t.Errorf("schema has no $defs/%s", rt.Name())
			return
		}
		var want []string
		for i := range rt.NumField() {
			f := rt.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			want = append(want, tag)
			walk(f.Type)
		}
		if got := keysOf(def["properties"]); !equalSets(got, want) {
			t.Errorf("$defs/%s properties: got %v, want the yaml fields %v", rt.Name(), got, want)
		}
		if def["additionalProperties"] != false {
			t.Errorf("$defs/%s must refuse unknown keys (additionalProperties: false)", rt.Name())
		}
	}
	// A file is a Project's yaml fields plus project and settings.
	pt := reflect.TypeFor[Project]()
	fileKeys := []string{"project", "settings"}
	for i := range pt.NumField() {
		f := pt.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			fileKeys = append(fileKeys, tag)
			walk(f.Type)
		}
	}
	if got := keysOf(s["properties"]); !equalSets(got, fileKeys) {
		t.Errorf("top-level properties: got %v, want Project's yaml fields plus project and settings %v", got, fileKeys)
	}
	walk(reflect.TypeFor[Settings]())
	// Every struct def in the schema must be a Go type we walked.
	names := map[string]bool{"Name": true, "Duration": true, "ByteSize": true}
	for rt := range seen {
		names[rt.Name()] = true
	}
	for _, k := range keysOf(defs) {
		if !names[k] {
			t.Errorf("schema $defs/%s matches no Go type", k)
		}
	}
}

func equalSets(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b)
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// yamlToJSON turns a declaration file into the JSON value the schema
// checks, the way yaml-language-server sees it.
func yamlToJSON(t testing.TB, data []byte) (any, bool) {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF}), &v); err != nil {
		return nil, false
	}
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst, true
}

func declFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && p != root && skipDir(de.Name()) {
			return fs.SkipDir
		}
		if !de.IsDir() && isDeclFile(p) {
			// Only declarations: playbooks, inventories and other YAML
			// beside them are the loader's to skip, not the schema's.
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if parseFile(p, data).skip == "" {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaAcceptsGoodFiles(t *testing.T) {
	sch := compileSchema(t)
	var files []string
	// The config trees among the examples (examples/monitoring holds
	// Prometheus files, not declarations).
	for _, name := range []string{"quickstart", "multi-project"} {
		files = append(files, declFiles(t, filepath.Join("../../examples", name))...)
	}
	files = append(files, declFiles(t, "testdata/good")...)
	if len(files) < 5 {
		t.Fatalf("got %d good files, want the examples and testdata/good", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inst, ok := yamlToJSON(t, data)
			if !ok {
				return // empty or comment-only
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("schema refuses a good file: %v", err)
			}
		})
	}
}

// schemaRejects says, for every bad tree, whether the schema alone must
// refuse one of its files. Trees whose mistakes need the whole tree
// (references, duplicates across files) or semantics (cron, timezones,
// globs) pass the schema and are caught by Load only.
var schemaRejects = map[string]bool{
	"alias-bomb":             false, // yaml.v3 refuses it before the schema sees it
	"app-requirements":       true,
	"bad-bytesize":           true,
	"bad-cron":               false,
	"bad-duration":           true,
	"bad-enum":               true,
	"bad-glob":               false,
	"bad-names":              true,
	"bad-timezone":           false,
	"bad-url":                false,
	"beside-playbooks":       true,
	"binary":                 false,
	"clear-text-secret":      true,
	"concurrency":            true,
	"dangling-refs":          false,
	"duplicate-description":  false,
	"duplicate-key":          false,
	"duplicate-name":         false,
	"forge":                  true,
	"integration-auth":       true,
	"inventory-requirements": true,
	"key-requirements":       true,
	"key-types":              false,
	"malformed-yaml":         false,
	"matchers-extractors":    true,
	"missing-project":        true,
	"missing-required":       true,
	"multi-doc":              false,
	"not-a-mapping":          true,
	"notifications":          true,
	"options-per-app":        false,
	"overrides":              true,
	"paths-escape":           false,
	"pr-mode":                false,
	"secret-shape":           true,
	"settings-twice":         false,
	"thirty-mistakes":        true,
	"trigger-settings":       true,
	"unknown-key":            true,
	"wrong-type":             true,
}

func TestSchemaRejectsBadFiles(t *testing.T) {
	sch := compileSchema(t)
	dirs, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			want, ok := schemaRejects[name]
			if !ok {
				t.Fatalf("bad tree %s is missing from the schemaRejects table", name)
			}
			rejected := false
			for _, f := range declFiles(t, filepath.Join("testdata/bad", name)) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				inst, ok := yamlToJSON(t, data)
				if !ok {
					continue
				}
				if sch.Validate(inst) != nil {
					rejected = true
				}
			}
			if rejected != want {
				t.Errorf("schema rejects %s: got %v, want %v", name, rejected, want)
			}
		})
	}
}
