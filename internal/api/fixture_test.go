package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

// Tokens of the fixture; their clear values live only in the fake resolver.
const (
	adminToken   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	readToken    = "read-token-value-1111111111111111"
	runToken     = "run-token-value-22222222222222222"
	webToken     = "web-token-value-33333333333333333"
	webDBToken   = "webdb-token-value-444444444444444"
	secretEnvRef = "VAULT_PASSWORD_REF_NAME"
)

type fixture struct {
	store   *apitest.Store
	engine  *apitest.Engine
	cfg     *apitest.Config
	secrets *apitest.Secrets
	reg     *prom.Registry
	logs    *testenv.LockedBuffer
	h       *api.Handler
}

func testConfig() *config.Config {
	tok := func(name, env string, scope config.Scope, projects ...string) *config.APIToken {
		return &config.APIToken{Name: name, Token: config.Secret{Env: env}, Scope: scope, Projects: projects}
	}
	return &config.Config{
		Settings: config.Settings{APITokens: map[string]*config.APIToken{
			"reader":  tok("reader", "READ_TOKEN", config.ScopeRead),
			"runner":  tok("runner", "RUN_TOKEN", config.ScopeRun),
			"web-ci":  tok("web-ci", "WEB_TOKEN", config.ScopeRun, "web"),
			"web-db":  tok("web-db", "WEBDB_TOKEN", config.ScopeRead, "web", "db"),
			"missing": tok("missing", "NOT_SET_ANYWHERE", config.ScopeAdmin),
		}},
		Projects: map[string]*config.Project{
			"web": {Name: "web", Description: "the web tier", Templates: map[string]*config.Template{
				"deploy": {Name: "deploy", App: config.AppAnsible, Repository: "site", Playbook: "site.yml",
					AllowOverrides: []config.Override{config.OverrideVars, config.OverrideCommit},
					Ansible:        &config.AnsibleOptions{VaultPassword: &config.Secret{Env: secretEnvRef}}},
				"plan": {Name: "plan", App: config.AppTofu, Repository: "infra", Directory: "env/prod",
					Timeout: config.Duration(30 * time.Minute), Concurrency: 2,
					Triggers: config.Triggers{
						Push:     &config.PushTrigger{Branches: []string{"main"}, Paths: []string{"env/prod/**"}},
						Schedule: &config.ScheduleTrigger{Cron: "0 6 * * *", Timezone: "Europe/Paris"},
					}},
			}},
			"db": {Name: "db", Templates: map[string]*config.Template{
				"backup": {Name: "backup", App: config.AppBash, Repository: "ops", Script: "backup.sh"},
			}},
			"ops": {Name: "ops", Templates: map[string]*config.Template{}},
		},
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with the handler's options edited by opt.
func newFixtureWith(t testing.TB, opt func(*api.Options)) *fixture {
	t.Helper()
	f := &fixture{
		store: apitest.NewStore(),
		cfg:   apitest.NewConfig(testConfig()),
		secrets: &apitest.Secrets{Values: map[string]string{
			"READ_TOKEN": readToken, "RUN_TOKEN": runToken, "WEB_TOKEN": webToken, "WEBDB_TOKEN": webDBToken,
		}},
		reg:  prom.NewRegistry(),
		logs: &testenv.LockedBuffer{},
	}
	f.engine = &apitest.Engine{Store: f.store}
	t.Cleanup(f.engine.Wait)
	opts := api.Options{
		Engine: f.engine, Store: f.store, Config: f.cfg, Secrets: f.secrets,
		AdminToken: adminToken,
		Logger:     slog.New(slog.NewTextHandler(f.logs, nil)),
		Registerer: f.reg,
	}
	if opt != nil {
		opt(&opts)
	}
	h, err := api.New(opts)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	f.h = h
	return f
}

// do sends one request to the handler and returns the recorded answer.
func (f *fixture) do(t testing.TB, method, path, token string, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// addTasks stores n tasks spread over projects and templates.
func (f *fixture) addTasks(n int) {
	combos := [][2]string{{"web", "deploy"}, {"web", "plan"}, {"db", "backup"}, {"ops", "x"}}
	for i := range n {
		c := combos[i%len(combos)]
		st := state.StatusSuccess
		if i%3 == 0 {
			st = state.StatusFailure
		}
		f.store.Add(state.Task{Request: task.Request{Project: c[0], Template: c[1], Trigger: task.Trigger{Type: "api"}, Overrides: task.Overrides{Commit: "abc123"}}, Status: st})
	}
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func errorMessage(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type: got %q, want application/json", ct)
	}
	return decode[struct {
		Error string `json:"error"`
	}](t, rec).Error
}

// doWithHeader sends a request with a raw Authorization header.
func doWithHeader(f *fixture, method, path, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", authorization)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}
