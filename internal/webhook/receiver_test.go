package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/prom/promtest"
	"github.com/semaphored/semaphored/internal/trigger"
)

const webConfig = `project: web
repositories:
  hello:
    url: https://github.com/Codertocat/Hello-World.git
    branch: master
    forge: {type: github, webhook_secret: {env: GH_SECRET}}
  nosecret:
    url: https://github.com/acme/nosecret.git
    forge: {type: github}
  diaspora:
    url: https://gitlab.example.com/mike/diaspora.git
    branch: master
    forge: {type: gitlab, api_url: "https://gitlab.example.com/api/v4", webhook_secret: {env: GL_SECRET}}
  infra:
    url: http://localhost:3000/acme/infra.git
    forge: {type: gitea, api_url: "http://localhost:3000/api/v1", webhook_secret: {env: GT_SECRET}}
templates:
  deploy: {app: bash, repository: hello, script: d.sh, triggers: {push: {}}}
  check: {app: bash, repository: hello, script: c.sh, triggers: {pull_request: {}}}
  quiet: {app: bash, repository: nosecret, script: q.sh, triggers: {push: {}}}
  gl: {app: bash, repository: diaspora, script: x.sh, triggers: {push: {}}}
  infra-check: {app: bash, repository: infra, script: x.sh, triggers: {pull_request: {}}}
integrations:
  alerts:
    template: deploy
    auth: {type: token, header: Authorization, secret: {env: ALERT_TOKEN}}
    matchers:
      - {body: status, equals: firing}
      - {body: "alerts.0.labels.severity", regex: "^(critical|page)$"}
    extractors:
      - {var: alert, body: "alerts.0.labels.alertname"}
      - {var: host, body: "alerts.0.labels.instance"}
  signed:
    template: deploy
    auth: {type: hmac, header: X-Signature, secret: {env: HMAC_KEY}}
  open:
    template: deploy
    auth: {type: none}
`

const settingsConfig = `settings:
  webhooks: {max_body: 64KiB}
  config_repo:
    forge: {type: github, repo: acme/config, webhook_secret: {env: CONFIG_SECRET}}
`

func webHarness(t *testing.T) *harness {
	cfg := loadConfig(t, map[string]string{"web.yaml": webConfig, "settings.yaml": settingsConfig})
	return newHarness(t, cfg, nil)
}

func TestForgeAuthFailures(t *testing.T) {
	h := webHarness(t)
	push := fixture(t, "github/push_with-new-branch.payload.json")
	unknown := bytes.Replace(push, []byte(`"full_name": "Codertocat/Hello-World"`), []byte(`"full_name": "someone/else"`), 1)
	nosecret := bytes.Replace(push, []byte(`"full_name": "Codertocat/Hello-World"`), []byte(`"full_name": "acme/nosecret"`), 1)
	sha1Only := github("push", "d-sha1", "gh-s3cret", push)
	sha1Only.Del("X-Hub-Signature-256")
	sha1Only.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")
	tests := []struct {
		name string
		path string
		hdr  http.Header
		body []byte
	}{
		{"unknown repository", "/hooks/github", github("push", "d1", "gh-s3cret", unknown), unknown},
		{"repository without a webhook secret", "/hooks/github", github("push", "d2", "", nosecret), nosecret},
		{"bad signature", "/hooks/github", github("push", "d3", "wrong", push), push},
		{"signature of another body", "/hooks/github", github("push", "d4", "gh-s3cret", []byte("{}")), push},
		{"sha1 signature only", "/hooks/github", sha1Only, push},
		{"no signature", "/hooks/github", http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"d5"}}, push},
		{"github secret on the gitlab endpoint", "/hooks/gitlab", gitlab("Push Hook", "d6", "gh-s3cret"), fixture(t, "gitlab/push.json")},
		{"gitlab wrong token", "/hooks/gitlab", gitlab("Push Hook", "d7", "gl-t0ke"), fixture(t, "gitlab/push.json")},
		{"gitea bad signature", "/hooks/gitea", gitea("pull_request", "d8", "nope", fixture(t, "gitea_pull_request_opened.json")), fixture(t, "gitea_pull_request_opened.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(tt.path, tt.hdr, tt.body)
			if r.code != http.StatusUnauthorized || r.answer.Status != "unauthorized" {
				t.Errorf("got %d %+v, want 401", r.code, r.answer)
			}
		})
	}
	for _, tt := range tests {
		source := strings.TrimPrefix(tt.path, "/hooks/")
		for _, k := range []string{"X-Github-Delivery", "X-Gitlab-Event-Uuid", "X-Gitea-Delivery"} {
			if id := tt.hdr.Get(k); id != "" && h.store.has(source, id) {
				t.Errorf("%s: the refused delivery %s was recorded", tt.name, id)
			}
		}
	}
	if n := len(h.store.allTasks()); n != 0 {
		t.Errorf("refused requests created %d tasks", n)
	}
}

func TestForgeBadRequests(t *testing.T) {
	h := webHarness(t)
	push := fixture(t, "github/push_with-new-branch.payload.json")
	noRef := bytes.Replace(push, []byte(`"ref": "refs/heads/master"`), []byte(`"reff": "x"`), 1)
	tests := []struct {
		name, want string
		hdr        http.Header
		body       []byte
	}{
		{"not JSON", "invalid JSON", github("push", "b1", "gh-s3cret", []byte("{")), []byte("{")},
		{"no repository", "missing field repository.full_name", github("push", "b2", "gh-s3cret", []byte("{}")), []byte("{}")},
		{"missing ref", "missing field ref", github("push", "b3", "gh-s3cret", noRef), noRef},
		{"no delivery id", "missing delivery id header X-GitHub-Delivery", github("push", "", "gh-s3cret", push), push},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post("/hooks/github", tt.hdr, tt.body)
			if r.code != http.StatusBadRequest || !strings.Contains(r.answer.Error, tt.want) {
				t.Errorf("got %d %+v, want 400 with %q", r.code, r.answer, tt.want)
			}
		})
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		if h.store.has("github", id) {
			t.Errorf("bad request %s recorded", id)
		}
	}
}

func TestForgeOversized(t *testing.T) {
	h := webHarness(t)
	big := append([]byte(`{"repository":{"full_name":"Codertocat/Hello-World"},"x":"`), bytes.Repeat([]byte("a"), 70<<10)...)
	big = append(big, `"}`...)
	r := h.post("/hooks/github", github("push", "o1", "gh-s3cret", big), big)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared length: got %d %+v, want 413", r.code, r.answer)
	}
	// A chunked body that does not declare its length is cut at the limit.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/hooks/github", struct{ *bytes.Reader }{bytes.NewReader(big)})
	req.Header = github("push", "o2", "gh-s3cret", big)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength > 0 {
		t.Errorf("chunked: got %d (content length %d), want 413", resp.StatusCode, req.ContentLength)
	}
}

func TestForgePushAndReplay(t *testing.T) {
	h := webHarness(t)
	body := fixture(t, "github/push_with-new-branch.payload.json")
	r := h.post("/hooks/github", github("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "gh-s3cret", body), body)
	if r.code != http.StatusCreated || r.answer.Status != "created" || len(r.answer.Tasks) != 1 || r.answer.Tasks[0].Template != "deploy" {
		t.Fatalf("got %d %+v", r.code, r.answer)
	}
	tasks := h.store.allTasks()
	if len(tasks) != 1 {
		t.Fatalf("got %d tasks", len(tasks))
	}
	task := tasks[0]
	if task.Trigger.Type != trigger.TypePush || task.Commit != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" || task.Branch != "master" ||
		task.Trigger.Source != "github" || task.Trigger.Actor != "Codertocat" || task.Trigger.DeliveryID == "" {
		t.Errorf("task %+v", task)
	}
	if adopted, _ := h.engine.snapshot(); !slices.Equal(adopted, []uint64{task.ID}) {
		t.Errorf("adopted %v", adopted)
	}
	// GitHub's "Redeliver" sends the same delivery id.
	again := h.post("/hooks/github", github("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "gh-s3cret", body), body)
	if again.code != http.StatusOK || again.answer.Status != "already processed" || len(again.answer.Tasks) != 1 || again.answer.Tasks[0].ID != task.ID {
		t.Errorf("replay: got %d %+v", again.code, again.answer)
	}
	if n := len(h.store.allTasks()); n != 1 {
		t.Errorf("replay created tasks: %d", n)
	}
	if adopted, _ := h.engine.snapshot(); len(adopted) != 1 {
		t.Errorf("replay adopted again: %v", adopted)
	}
	d, _, err := h.store.Delivery(context.Background(), "github", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if err != nil || !strings.Contains(d.Note, "tasks for web/deploy") || !strings.Contains(d.Note, "Codertocat/Hello-World refs/heads/master@6113728f27ae") {
		t.Errorf("delivery %+v, %v", d, err)
	}
}

func TestForgeUnhandledEvents(t *testing.T) {
	h := webHarness(t)
	tests := []struct {
		event, file, want string
	}{
		{"ping", "github/ping_payload.json", "ping: webhook is set up"},
		{"create", "github/create_payload.json", "create events are not handled"},
		{"delete", "github/delete_payload.json", "delete events are not handled"},
		{"push", "github/push_payload.json", "tag simple-tag deleted: nothing runs"},
	}
	for i, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			// The ping fixture comes from another repository.
			body := bytes.ReplaceAll(fixture(t, tt.file), []byte("Octocoders/Hello-World"), []byte("Codertocat/Hello-World"))
			r := h.post("/hooks/github", github(tt.event, fmt.Sprint("u", i), "gh-s3cret", body), body)
			if r.code != http.StatusOK || r.answer.Status != "nothing" || !slices.Contains(r.answer.Reasons, tt.want) || len(r.answer.Tasks) != 0 {
				t.Errorf("got %d %+v, want 200 with %q", r.code, r.answer, tt.want)
			}
		})
	}
	for i := range tests {
		if !h.store.has("github", fmt.Sprint("u", i)) {
			t.Errorf("delivery u%d not recorded (every delivery is an event)", i)
		}
	}
}

func TestGitLabAndBranchReason(t *testing.T) {
	h := webHarness(t)
	body := fixture(t, "gitlab/push.json")
	r := h.post("/hooks/gitlab", gitlab("Push Hook", "gl-1", "gl-t0ken"), body)
	// The payload lists 2 of 4 commits, but gl has no paths: it runs now.
	if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 || r.answer.Tasks[0].Template != "gl" {
		t.Fatalf("got %d %+v", r.code, r.answer)
	}
	feature := bytes.Replace(body, []byte(`"ref": "refs/heads/master"`), []byte(`"ref": "refs/heads/feature"`), 1)
	r = h.post("/hooks/gitlab", gitlab("Push Hook", "gl-2", "gl-t0ken"), feature)
	if r.code != http.StatusOK || !slices.Equal(r.answer.Reasons, []string{"no template of mike/diaspora triggers on branch feature"}) {
		t.Errorf("got %d %+v", r.code, r.answer)
	}
}

func TestConfigRepoPushKicksSync(t *testing.T) {
	h := webHarness(t)
	body := bytes.ReplaceAll(fixture(t, "github/push_with-new-branch.payload.json"), []byte("Codertocat/Hello-World"), []byte("acme/config"))
	r := h.post("/hooks/github", github("push", "c1", "cfg-s3cret", body), body)
	if r.code != http.StatusOK || !r.answer.Sync || h.kick.n != 1 || len(r.answer.Tasks) != 0 {
		t.Errorf("got %d %+v, kicks %d", r.code, r.answer, h.kick.n)
	}
	// The job repository's secret does not sign for the config repository.
	r = h.post("/hooks/github", github("push", "c2", "gh-s3cret", body), body)
	if r.code != http.StatusUnauthorized || h.kick.n != 1 {
		t.Errorf("wrong secret: got %d, kicks %d", r.code, h.kick.n)
	}
}

func TestPullRequestForkAndSynchronize(t *testing.T) {
	h := webHarness(t)
	h.run()
	opened := fixture(t, "github/pull_request_opened.payload.json")
	r := h.post("/hooks/github", github("pull_request", "pr-1", "gh-s3cret", opened), opened)
	if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 {
		t.Fatalf("opened: got %d %+v", r.code, r.answer)
	}
	first := h.store.allTasks()[0]
	if !first.DryRun || first.Trigger.PR != 2 || first.Trigger.Head != "changes" || first.Trigger.Base != "master" || first.Trigger.Type != trigger.TypePullRequest {
		t.Errorf("check task %+v", first)
	}
	h.store.setStatus(first.ID, trigger.StatusRunning)
	sync := fixture(t, "github/pull_request_synchronize.payload.json")
	// The fixture's synchronize has the same head as opened: give it a new one.
	sync = bytes.ReplaceAll(sync, []byte("ec26c3e57ca3a959ca5aad62de7213c562f8c821"), []byte("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"))
	r = h.post("/hooks/github", github("pull_request", "pr-2", "gh-s3cret", sync), sync)
	if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 {
		t.Fatalf("synchronize: got %d %+v", r.code, r.answer)
	}
	waitFor(t, "the older check stopped", func() bool {
		_, stopped := h.engine.snapshot()
		return slices.Equal(stopped, []uint64{first.ID})
	})
	// A fork's pull request runs nothing unless the trigger allows forks.
	fork := fixture(t, "gitea_pull_request_fork.json")
	r = h.post("/hooks/gitea", gitea("pull_request", "pr-3", "gt-s3cret", fork), fork)
	if r.code != http.StatusOK || len(r.answer.Tasks) != 0 || len(r.answer.Reasons) != 1 || !strings.Contains(r.answer.Reasons[0], "web/infra-check: fork pull request") {
		t.Errorf("fork: got %d %+v", r.code, r.answer)
	}
	// Closing stops the waiting checks of the pull request.
	second := h.store.allTasks()[1]
	closed := fixture(t, "github/pull_request_closed.payload.json")
	r = h.post("/hooks/github", github("pull_request", "pr-4", "gh-s3cret", closed), closed)
	if r.code != http.StatusOK {
		t.Fatalf("closed: got %d %+v", r.code, r.answer)
	}
	waitFor(t, "the waiting check stopped", func() bool {
		_, stopped := h.engine.snapshot()
		return slices.Equal(stopped, []uint64{first.ID, second.ID})
	})
}

func TestIntegrations(t *testing.T) {
	h := webHarness(t)
	alert := []byte(`{"version":"4","status":"firing","receiver":"semaphored","alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"web-1:9100","severity":"critical"}}]}`)
	bearer := http.Header{"Authorization": {"Bearer alert-t0ken"}}
	r := h.post("/hooks/integrations/web/alerts", bearer, alert)
	if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 {
		t.Fatalf("got %d %+v", r.code, r.answer)
	}
	task := h.store.allTasks()[0]
	if task.Trigger.Type != trigger.TypeIntegration || task.Trigger.Actor != "alerts" || task.Vars["alert"] != "DiskFull" || task.Vars["host"] != "web-1:9100" {
		t.Errorf("task %+v", task)
	}
	resolved := bytes.Replace(alert, []byte(`"status":"firing","receiver"`), []byte(`"status":"resolved","receiver"`), 1)
	r = h.post("/hooks/integrations/web/alerts", bearer, resolved)
	if r.code != http.StatusOK || r.answer.Tasks == nil || len(r.answer.Tasks) != 0 || len(r.answer.Reasons) != 1 || !strings.Contains(r.answer.Reasons[0], `body status is "resolved"`) {
		t.Errorf("not matching: got %d %+v", r.code, r.answer)
	}
	for _, hdr := range []http.Header{{"Authorization": {"Bearer wrong"}}, {}} {
		if r := h.post("/hooks/integrations/web/alerts", hdr, alert); r.code != http.StatusUnauthorized {
			t.Errorf("bad token: got %d", r.code)
		}
	}
	body := []byte(`{"x":1}`)
	if r := h.post("/hooks/integrations/web/signed", http.Header{"X-Signature": {"sha256=" + forge.Sign([]byte("hmac-k3y"), body)}}, body); r.code != http.StatusCreated {
		t.Errorf("hmac: got %d %+v", r.code, r.answer)
	}
	if r := h.post("/hooks/integrations/web/signed", http.Header{"X-Signature": {forge.Sign([]byte("x"), body)}}, body); r.code != http.StatusUnauthorized {
		t.Errorf("bad hmac: got %d", r.code)
	}
	key := http.Header{"Idempotency-Key": {"k-1"}}
	first := h.post("/hooks/integrations/web/open", key, body)
	again := h.post("/hooks/integrations/web/open", key, body)
	if first.code != http.StatusCreated || again.code != http.StatusOK || again.answer.Status != "already processed" || again.answer.Tasks[0].ID != first.answer.Tasks[0].ID {
		t.Errorf("idempotency key: got %d %+v then %d %+v", first.code, first.answer, again.code, again.answer)
	}
	if r := h.post("/hooks/integrations/web/nope", nil, body); r.code != http.StatusNotFound {
		t.Errorf("unknown integration: got %d", r.code)
	}
}

func TestMetricsLint(t *testing.T) {
	h := webHarness(t)
	body := fixture(t, "github/push_with-new-branch.payload.json")
	h.post("/hooks/github", github("push", "m1", "gh-s3cret", body), body)
	h.post("/hooks/github", github("push", "m2", "bad", body), body)
	text := promtest.Text(t, h.reg)
	var names []string
	for _, mf := range h.reg.Gather() {
		names = append(names, mf.Name)
	}
	for _, want := range []string{"semaphored_webhook_requests_total", "semaphored_webhook_request_duration_seconds", "semaphored_trigger_tasks_created_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s missing from %v", want, names)
		}
	}
	if strings.Contains(text, "gh-s3cret") || strings.Contains(text, `"m1"`) {
		t.Error("a secret or delivery id reached a metric")
	}
}

func TestPendingResumedAfterRestart(t *testing.T) {
	store := openStore(t, "")
	cfg := loadConfig(t, map[string]string{"web.yaml": webConfig})
	// A delivery recorded pending by a process that died before diffing:
	// its payload says what is left; the repository cannot be diffed here,
	// so the resumed work completes with the reason.
	w := pendingWork{
		Event: forge.Event{Forge: forge.GitHub, Kind: forge.KindPush, Name: "push", Repo: "Codertocat/Hello-World",
			Push: &forge.Push{Ref: "refs/heads/master", Branch: "master", Commit: strings.Repeat("a", 40)}},
		Deferred: []trigger.Deferred{{Request: trigger.Request{Project: "web", Template: "deploy"}, Repo: "web/gone", From: "x", To: "y", Paths: []string{"a/**"}}},
	}
	payload, _ := json.Marshal(w)
	if _, _, _, err := store.AcceptDelivery(context.Background(), trigger.Delivery{Source: "github", ID: "p1", Event: "push", Pending: true, Payload: payload}, nil); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, store)
	h.run()
	waitFor(t, "the pending delivery completed", func() bool {
		p, _ := store.PendingDeliveries(context.Background())
		return len(p) == 0
	})
	d, _, _ := store.Delivery(context.Background(), "github", "p1")
	if !strings.Contains(d.Note, "web/deploy: changed paths could not be computed: repository web/gone is no longer declared") {
		t.Errorf("note %q", d.Note)
	}
}

// TestPullRequestStopsSurviveACrash: a synchronize acknowledged by a
// process that died before it stopped the older check; the stop is
// recorded with the delivery, so the next process carries it out.
func TestPullRequestStopsSurviveACrash(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"web.yaml": webConfig, "settings.yaml": settingsConfig})
	dead := newHarness(t, cfg, nil) // its intake worker never runs
	opened := fixture(t, "github/pull_request_opened.payload.json")
	if r := dead.post("/hooks/github", github("pull_request", "pr-1", "gh-s3cret", opened), opened); r.code != http.StatusCreated {
		t.Fatalf("opened: got %d %+v", r.code, r.answer)
	}
	first := dead.store.allTasks()[0]
	dead.store.setStatus(first.ID, trigger.StatusRunning)
	sync := fixture(t, "github/pull_request_synchronize.payload.json")
	sync = bytes.ReplaceAll(sync, []byte("ec26c3e57ca3a959ca5aad62de7213c562f8c821"), []byte("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"))
	if r := dead.post("/hooks/github", github("pull_request", "pr-2", "gh-s3cret", sync), sync); r.code != http.StatusCreated {
		t.Fatalf("synchronize: got %d %+v", r.code, r.answer)
	}
	if _, stopped := dead.engine.snapshot(); len(stopped) != 0 {
		t.Fatalf("stopped %v without an intake worker", stopped)
	}
	next := newHarness(t, cfg, dead.store)
	next.run()
	waitFor(t, "the older check stopped after the restart", func() bool {
		_, stopped := next.engine.snapshot()
		return slices.Equal(stopped, []uint64{first.ID})
	})
	waitFor(t, "the delivery completed", func() bool {
		p, _ := next.store.PendingDeliveries(context.Background())
		return len(p) == 0
	})
	if n := len(next.store.allTasks()); n != 2 {
		t.Errorf("got %d tasks, want 2 (one check per head)", n)
	}
}
