package api_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/config"
	semexec "github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/prom/promtest"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

func TestAuth(t *testing.T) {
	f := newFixture(t)
	tk := f.store.Add(state.Task{Request: task.Request{Project: "db", Template: "backup"}})
	web := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "GET", "/api/v1/projects", "", "", 401},
		{"unknown token", "GET", "/api/v1/projects", "nope-not-a-token", "", 401},
		{"admin reads", "GET", "/api/v1/projects", adminToken, "", 200},
		{"read reads", "GET", "/api/v1/tasks", readToken, "", 200},
		{"read cannot run", "POST", "/api/v1/projects/web/templates/deploy/tasks", readToken, "{}", 403},
		{"read cannot stop", "POST", fmt.Sprintf("/api/v1/tasks/%d/stop", tk.ID), readToken, "", 403},
		{"run runs", "POST", "/api/v1/projects/web/templates/deploy/tasks", runToken, "{}", 201},
		{"run stops", "POST", fmt.Sprintf("/api/v1/tasks/%d/stop", tk.ID), runToken, "", 200},
		{"project token on its project", "POST", "/api/v1/projects/web/templates/plan/tasks", webToken, "", 201},
		{"project token on another project", "POST", "/api/v1/projects/db/templates/backup/tasks", webToken, "", 404},
		{"project token reads another project's templates", "GET", "/api/v1/projects/db/templates", webToken, "", 404},
		{"project token reads another project's task", "GET", fmt.Sprintf("/api/v1/tasks/%d", tk.ID), webToken, "", 404},
		{"project token reads its task", "GET", fmt.Sprintf("/api/v1/tasks/%d", web.ID), webToken, "", 200},
		{"project token stops another project's task", "POST", fmt.Sprintf("/api/v1/tasks/%d/stop", tk.ID), webToken, "", 404},
		{"project token reads another project's log", "GET", fmt.Sprintf("/api/v1/tasks/%d/log", tk.ID), webToken, "", 404},
		{"project token lists another project's tasks", "GET", "/api/v1/tasks?project=db", webToken, "", 404},
		{"project token stops another project", "POST", "/api/v1/projects/db/stop", webToken, "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.method, tt.path, tt.token, tt.body)
			if rec.Code != tt.want {
				t.Fatalf("%s %s: got %d (%s), want %d", tt.method, tt.path, rec.Code, rec.Body, tt.want)
			}
			if tt.want == 401 {
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate: got %q, want Bearer ...", got)
				}
			}
			if tt.want >= 400 && errorMessage(t, rec) == "" {
				t.Errorf("got an empty error message")
			}
		})
	}
	// Another project's task and an id never used get the same answer.
	other := f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d", tk.ID), webToken, "")
	unused := f.do(t, "GET", "/api/v1/tasks/999", webToken, "")
	if got, want := other.Body.String(), strings.Replace(unused.Body.String(), "999", fmt.Sprint(tk.ID), 1); got != want {
		t.Errorf("another project's task: got %s, want the answer to an unused id: %s", got, want)
	}
	for _, tok := range []string{adminToken, readToken, runToken, webToken, webDBToken} {
		if strings.Contains(f.logs.String(), tok) {
			t.Errorf("log holds a token: %s", f.logs.String())
		}
	}
	if !strings.Contains(f.logs.String(), "missing") {
		t.Errorf("log does not name the token whose secret failed to resolve: %q", f.logs.String())
	}
}

func TestAuthBearerSchemeCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	for _, h := range []string{"bearer " + readToken, "Bearer  " + readToken} {
		if rec := doWithHeader(f, "GET", "/api/v1/projects", h); rec.Code != 200 {
			t.Errorf("Authorization %q: got %d, want 200", strings.Replace(h, readToken, "TOKEN", 1), rec.Code)
		}
	}
	for _, h := range []string{"Basic " + readToken, readToken, "Bearer"} {
		if rec := doWithHeader(f, "GET", "/api/v1/projects", h); rec.Code != 401 {
			t.Errorf("Authorization %q: got %d, want 401", strings.Replace(h, readToken, "TOKEN", 1), rec.Code)
		}
	}
}

// TestTokensFollowTheActiveConfig checks that tokens are resolved once per
// configuration and that a new configuration replaces them.
func TestTokensFollowTheActiveConfig(t *testing.T) {
	f := newFixture(t)
	for range 20 {
		if rec := f.do(t, "GET", "/api/v1/projects", readToken, ""); rec.Code != 200 {
			t.Fatalf("got %d, want 200", rec.Code)
		}
	}
	calls := f.secrets.Calls()
	if want := int64(len(testConfig().Settings.APITokens)); calls != want {
		t.Errorf("resolver calls after 20 requests: got %d, want %d (one per token)", calls, want)
	}

	next := testConfig()
	next.Settings.APITokens = map[string]*config.APIToken{
		"rotated": {Name: "rotated", Token: config.Secret{Env: "RUN_TOKEN"}, Scope: config.ScopeRead},
	}
	f.cfg.Set(next)
	if rec := f.do(t, "GET", "/api/v1/projects", readToken, ""); rec.Code != 401 {
		t.Errorf("removed token after reload: got %d, want 401", rec.Code)
	}
	if rec := f.do(t, "GET", "/api/v1/projects", runToken, ""); rec.Code != 200 {
		t.Errorf("new token after reload: got %d, want 200", rec.Code)
	}
	if rec := f.do(t, "POST", "/api/v1/projects/web/templates/plan/tasks", runToken, ""); rec.Code != 403 {
		t.Errorf("token whose scope became read, running: got %d, want 403", rec.Code)
	}
	if got, want := f.secrets.Calls(), calls+1; got != want {
		t.Errorf("resolver calls after reload: got %d, want %d", got, want)
	}
	f.cfg.Set(nil)
	if rec := f.do(t, "GET", "/api/v1/projects", adminToken, ""); rec.Code != 200 {
		t.Errorf("admin token with no active config: got %d, want 200", rec.Code)
	}
	if rec := f.do(t, "GET", "/api/v1/projects", runToken, ""); rec.Code != 401 {
		t.Errorf("config token with no active config: got %d, want 401", rec.Code)
	}
}

func TestProjectsAndTemplates(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		token string
		want  []api.Project
	}{
		{adminToken, []api.Project{{Name: "db", Templates: 1}, {Name: "ops"}, {Name: "web", Description: "the web tier", Templates: 2}}},
		{webToken, []api.Project{{Name: "web", Description: "the web tier", Templates: 2}}},
		{webDBToken, []api.Project{{Name: "db", Templates: 1}, {Name: "web", Description: "the web tier", Templates: 2}}},
	}
	for _, tt := range tests {
		rec := f.do(t, "GET", "/api/v1/projects", tt.token, "")
		got := decode[[]api.Project](t, rec)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("projects: got %v, want %v", got, tt.want)
		}
	}

	rec := f.do(t, "GET", "/api/v1/projects/web/templates", readToken, "")
	if rec.Code != 200 {
		t.Fatalf("templates: got %d, want 200", rec.Code)
	}
	if strings.Contains(rec.Body.String(), secretEnvRef) || strings.Contains(rec.Body.String(), "vault") {
		t.Errorf("templates answer shows a secret reference: %s", rec.Body)
	}
	tpls := decode[[]map[string]any](t, rec)
	if len(tpls) != 2 || tpls[0]["name"] != "deploy" || tpls[1]["name"] != "plan" {
		t.Fatalf("templates: got %v, want deploy then plan", tpls)
	}
	if tpls[0]["app"] != "ansible" || tpls[0]["repository"] != "site" || fmt.Sprint(tpls[0]["allow_overrides"]) != "[vars commit]" {
		t.Errorf("deploy: got %v, want app ansible, repository site, allow_overrides [vars commit]", tpls[0])
	}

	if rec := f.do(t, "GET", "/api/v1/projects/nope/templates", readToken, ""); rec.Code != 404 {
		t.Errorf("unknown project: got %d, want 404", rec.Code)
	}
	f.cfg.Set(nil)
	if rec := f.do(t, "GET", "/api/v1/projects", adminToken, ""); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("no config: got %d %s, want 200 []", rec.Code, rec.Body)
	}
}

func TestListTasksPaging(t *testing.T) {
	f := newFixture(t)
	f.addTasks(1234)
	tests := []struct {
		name, token, query string
		limit              int
		match              func(api.Task) bool
	}{
		{"all, default page", adminToken, "", 50, func(api.Task) bool { return true }},
		{"all, big pages", adminToken, "limit=1000", 1000, func(api.Task) bool { return true }},
		{"one template", readToken, "project=web&template=plan&limit=100", 100, func(t api.Task) bool { return t.Template == "plan" }},
		{"by status", readToken, "status=failure&limit=70", 70, func(t api.Task) bool { return t.Status == state.StatusFailure }},
		{"by two statuses", readToken, "status=failure,success&limit=333", 333, func(api.Task) bool { return true }},
		{"one-project token", webToken, "limit=77", 77, func(t api.Task) bool { return t.Project == "web" }},
		{"two-project token", webDBToken, "limit=64", 64, func(t api.Task) bool { return t.Project != "ops" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := 0
			for id := uint64(1); id <= 1234; id++ {
				tk, _ := f.store.Task(t.Context(), id)
				if tt.match(api.TaskOf(tk)) {
					want++
				}
			}
			path := "/api/v1/tasks"
			if tt.query != "" {
				path += "?" + tt.query
			}
			var got int
			last := uint64(1 << 62)
			for pages := 0; path != ""; pages++ {
				if pages > 1234 {
					t.Fatal("paging does not end")
				}
				rec := f.do(t, "GET", path, tt.token, "")
				if rec.Code != 200 {
					t.Fatalf("GET %s: got %d %s, want 200", path, rec.Code, rec.Body)
				}
				page := decode[[]api.Task](t, rec)
				if len(page) > tt.limit {
					t.Fatalf("page of %d tasks, want at most %d", len(page), tt.limit)
				}
				for _, tk := range page {
					if tk.ID >= last {
						t.Fatalf("task %d after %d: want newest first, no repeat", tk.ID, last)
					}
					if !tt.match(tk) {
						t.Fatalf("task %+v does not match the filter", tk)
					}
					last = tk.ID
				}
				got += len(page)
				path = nextLink(t, rec.Header().Get("Link"))
				if path != "" && len(page) != tt.limit {
					t.Fatalf("a page of %d with a next link, want full pages of %d", len(page), tt.limit)
				}
			}
			if got != want {
				t.Errorf("tasks seen over all pages: got %d, want %d", got, want)
			}
		})
	}

	bad := []string{"status=bogus", "limit=0", "limit=x", "before=-1", "limit=1001", "limit=5000"}
	for _, q := range bad {
		if rec := f.do(t, "GET", "/api/v1/tasks?"+q, adminToken, ""); rec.Code != 400 {
			t.Errorf("?%s: got %d, want 400", q, rec.Code)
		}
	}
}

// nextLink returns the target of a Link rel="next" header, or "".
func nextLink(t testing.TB, h string) string {
	t.Helper()
	if h == "" {
		return ""
	}
	target, rel, ok := strings.Cut(h, ";")
	if !ok || strings.TrimSpace(rel) != `rel="next"` {
		t.Fatalf("Link %q: want <URL>; rel=\"next\"", h)
	}
	return strings.Trim(target, "<> ")
}

func TestTaskFields(t *testing.T) {
	f := newFixture(t)
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: "push"}, Overrides: task.Overrides{Commit: "abc", Branch: "main"}}})
	rec := f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d", tk.ID), readToken, "")
	got := decode[map[string]any](t, rec)
	for _, k := range []string{"id", "project", "template", "status", "commit", "branch", "trigger", "created", "exit_code", "log_lines"} {
		if _, ok := got[k]; !ok {
			t.Errorf("task JSON has no %q: %v", k, got)
		}
	}
	for _, k := range []string{"started", "ended"} {
		if _, ok := got[k]; ok {
			t.Errorf("task JSON has %q while it is zero: %v", k, got)
		}
	}
	for _, p := range []string{"/api/v1/tasks/999", "/api/v1/tasks/0", "/api/v1/tasks/x"} {
		want := 404
		if !strings.HasSuffix(p, "999") {
			want = 400
		}
		if rec := f.do(t, "GET", p, readToken, ""); rec.Code != want {
			t.Errorf("GET %s: got %d, want %d", p, rec.Code, want)
		}
	}
}

func TestCreateTask(t *testing.T) {
	f := newFixture(t)
	body := `{"commit":"0123abc","branch":"main","vars":{"n":12345678901234567890,"s":"x","l":[1,2]},"arguments":["-v"],"limit":"web1","tags":["a"],"skip_tags":["b"],"workspace":"prod","dry_run":true}`
	rec := f.do(t, "POST", "/api/v1/projects/web/templates/deploy/tasks", runToken, body)
	if rec.Code != 201 {
		t.Fatalf("got %d %s, want 201", rec.Code, rec.Body)
	}
	tk := decode[api.Task](t, rec)
	if got, want := rec.Header().Get("Location"), "/api/v1/tasks/"+strconv.FormatUint(tk.ID, 10); got != want {
		t.Errorf("Location: got %q, want %q", got, want)
	}
	subs := f.engine.Submitted()
	if len(subs) != 1 {
		t.Fatalf("submitted: got %d requests, want 1", len(subs))
	}
	r := subs[0]
	if r.Project != "web" || r.Template != "deploy" || r.Trigger.Type != task.TriggerAPI || r.Trigger.Actor != "runner" ||
		r.Commit != "0123abc" || r.Branch != "main" || r.Limit != "web1" || !r.DryRun || r.Workspace != "prod" ||
		fmt.Sprint(r.Arguments, r.Tags, r.SkipTags) != "[-v] [a] [b]" {
		t.Errorf("request: got %+v", r)
	}
	if got := fmt.Sprint(r.Vars["n"]); got != "12345678901234567890" {
		t.Errorf("big integer var: got %s, want 12345678901234567890 (no float rounding)", got)
	}

	big := `{"vars":{"x":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}}`
	tests := []struct {
		name, path, body string
		submitErr        error
		want             int
		wantMsg          string
	}{
		{"empty body", "/api/v1/projects/web/templates/deploy/tasks", "", nil, 201, ""},
		{"unknown field", "/api/v1/projects/web/templates/deploy/tasks", `{"comit":"x"}`, nil, 400, "comit"},
		{"bad JSON", "/api/v1/projects/web/templates/deploy/tasks", `{"vars":`, nil, 400, "bad JSON"},
		{"vars not an object", "/api/v1/projects/web/templates/deploy/tasks", `{"vars":[1]}`, nil, 400, "vars"},
		{"trailing data", "/api/v1/projects/web/templates/deploy/tasks", `{} {}`, nil, 400, "trailing"},
		{"too large", "/api/v1/projects/web/templates/deploy/tasks", big, nil, 413, "larger"},
		{"unknown project", "/api/v1/projects/nope/templates/deploy/tasks", `{}`, nil, 404, "nope"},
		{"unknown template", "/api/v1/projects/web/templates/nope/tasks", `{}`, nil, 404, "nope"},
		{"override not allowed", "/api/v1/projects/web/templates/plan/tasks", `{"limit":"x"}`,
			fmt.Errorf("override limit not allowed by template plan: %w", semexec.ErrBadRequest), 400, "override limit not allowed"},
		{"engine lost the template", "/api/v1/projects/web/templates/plan/tasks", `{}`,
			fmt.Errorf("submit: %w", semexec.ErrUnknownTemplate), 404, "no such"},
		{"engine shutting down", "/api/v1/projects/web/templates/plan/tasks", `{}`,
			fmt.Errorf("submit: %w", semexec.ErrClosed), 503, "shutting down"},
		{"engine failure", "/api/v1/projects/web/templates/plan/tasks", `{}`,
			errors.New("bolt: disk I/O error at /secret/path"), 500, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.engine.SubmitErr = tt.submitErr
			defer func() { f.engine.SubmitErr = nil }()
			rec := f.do(t, "POST", tt.path, runToken, tt.body)
			if rec.Code != tt.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.want >= 400 {
				if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "/secret/path") {
					t.Errorf("message: got %q, want it to hold %q", msg, tt.wantMsg)
				}
			}
		})
	}
	if !strings.Contains(f.logs.String(), "disk I/O error") {
		t.Errorf("a 500 is not logged with its cause: %q", f.logs.String())
	}
}

func TestTaskActions(t *testing.T) {
	f := newFixture(t)
	waiting := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}})
	done := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusSuccess})
	confirm := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusWaitingConfirmation})
	reject := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusWaitingConfirmation})
	tests := []struct {
		action     string
		id         uint64
		want       int
		wantStatus state.TaskStatus
	}{
		{"stop", waiting.ID, 200, state.StatusStopped},
		{"stop", done.ID, 409, ""},
		{"stop", 999, 404, ""},
		{"confirm", done.ID, 409, ""},
		{"confirm", confirm.ID, 200, state.StatusRunning},
		{"reject", reject.ID, 200, state.StatusStopped},
		{"reject", reject.ID, 409, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.action, tt.id), func(t *testing.T) {
			rec := f.do(t, "POST", fmt.Sprintf("/api/v1/tasks/%d/%s", tt.id, tt.action), runToken, "")
			if rec.Code != tt.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.want == 200 {
				if got := decode[api.Task](t, rec).Status; got != tt.wantStatus {
					t.Errorf("status: got %s, want %s", got, tt.wantStatus)
				}
			} else {
				errorMessage(t, rec)
			}
		})
	}
}

func TestStopWaiting(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}})
	}
	f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusRunning})
	f.store.Add(state.Task{Request: task.Request{Project: "db", Template: "backup"}})
	tests := []struct {
		path        string
		want, count int
	}{
		{"/api/v1/projects/web/templates/plan/stop", 200, 3},
		{"/api/v1/projects/web/templates/plan/stop", 200, 0},
		{"/api/v1/projects/web/stop", 200, 1},
		{"/api/v1/projects/web/templates/nope/stop", 404, 0},
		{"/api/v1/projects/nope/stop", 404, 0},
	}
	for _, tt := range tests {
		rec := f.do(t, "POST", tt.path, runToken, "")
		if rec.Code != tt.want {
			t.Fatalf("POST %s: got %d %s, want %d", tt.path, rec.Code, rec.Body, tt.want)
		}
		if tt.want == 200 {
			if got := decode[api.StopResult](t, rec).Stopped; got != tt.count {
				t.Errorf("POST %s: stopped %d, want %d", tt.path, got, tt.count)
			}
		}
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{"DELETE", "/api/v1/tasks/1", 405, "GET, HEAD"},
		{"POST", "/api/v1/tasks", 405, "GET, HEAD"},
		{"GET", "/api/v1/tasks/1/stop", 405, "POST"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/", 404, ""},
	}
	for _, tt := range tests {
		rec := f.do(t, tt.method, tt.path, adminToken, "")
		if rec.Code != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow got %q, want %q", tt.method, tt.path, got, tt.allow)
		}
		errorMessage(t, rec)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}})
	for range 3 {
		f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d", tk.ID), readToken, "")
	}
	f.do(t, "GET", "/api/v1/tasks/424242", readToken, "")
	f.do(t, "GET", "/api/v1/tasks/1", "", "")
	f.do(t, "DELETE", "/api/v1/tasks/1", readToken, "")
	tests := []struct {
		route, code string
		want        float64
	}{
		{"GET /api/v1/tasks/{id}", "200", 3},
		{"GET /api/v1/tasks/{id}", "404", 1},
		{"GET /api/v1/tasks/{id}", "401", 1},
		{"unmatched", "405", 1},
	}
	lintMetrics(t, f)
	for _, tt := range tests {
		c, err := counter(f, tt.route, tt.code)
		if err != nil {
			t.Fatal(err)
		}
		if c != tt.want {
			t.Errorf("requests_total{route=%q,code=%q}: got %v, want %v", tt.route, tt.code, c, tt.want)
		}
	}
	for _, mf := range f.reg.Gather() {
		if mf.Name == "semaphored_http_request_duration_seconds" && len(mf.Series) != 2 {
			t.Errorf("duration series: got %d, want 2 (two routes)", len(mf.Series))
		}
	}
}

// lintMetrics runs promtool check metrics over the exposition.
func lintMetrics(t *testing.T, f *fixture) {
	t.Helper()
	promtool := testenv.LookTool(t, "promtool")
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(promtest.Text(t, f.reg))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func counter(f *fixture, route, code string) (float64, error) {
	for _, mf := range f.reg.Gather() {
		if mf.Name != "semaphored_http_requests_total" {
			continue
		}
		for _, m := range mf.Series {
			labels := map[string]string{}
			for i, name := range mf.LabelNames {
				labels[name] = m.LabelValues[i]
			}
			if labels["route"] == route && labels["code"] == code {
				return m.Value, nil
			}
		}
	}
	return 0, nil
}

func TestNewRequiresDependencies(t *testing.T) {
	f := newFixture(t)
	if _, err := api.New(api.Options{Store: f.store, Config: f.cfg}); err == nil {
		t.Error("New without an engine: got nil error, want one")
	}
	// The same registry twice: registration fails rather than panics.
	if _, err := api.New(api.Options{Engine: f.engine, Store: f.store, Config: f.cfg, Registerer: f.reg}); err == nil {
		t.Error("New registering twice: got nil error, want one")
	}
}

// TestConcurrentRequestsAndReloads serves requests from many goroutines
// while the active configuration changes under them (run with -race).
func TestConcurrentRequestsAndReloads(t *testing.T) {
	f := newFixture(t)
	f.addTasks(50)
	done := make(chan struct{})
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for {
			select {
			case <-done:
				return
			default:
				f.cfg.Set(testConfig())
			}
		}
	}()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var err error
			defer func() { errs <- err }()
			for i := range 200 {
				tok := []string{adminToken, readToken, runToken, webToken}[(g+i)%4]
				if rec := f.do(t, "GET", "/api/v1/tasks?limit=5", tok, ""); rec.Code != 200 {
					err = fmt.Errorf("goroutine %d request %d: got %d %s, want 200", g, i, rec.Code, rec.Body)
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(done)
	<-reloaded
}
