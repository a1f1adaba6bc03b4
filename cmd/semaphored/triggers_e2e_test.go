package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

// The daemon's environment (startDaemon) holds SEMAPHORED_TEST_SECRET.
const hookSecret = "s3cr3t-value-for-tests"

// postHook sends a GitHub push signed with hookSecret and returns the
// status and the answer.
func postHook(t *testing.T, d *daemon, delivery string, body []byte) (int, map[string]any) {
	t.Helper()
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write(body)
	req, _ := http.NewRequest("POST", d.url+"/hooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a map[string]any
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, a
}

// githubPush is a GitHub push payload of before..after on main of
// acme/site listing commits (each with its changed paths).
func githubPush(before, after string, commits [][]string) []byte {
	var cs []map[string]any
	for i, paths := range commits {
		cs = append(cs, map[string]any{"id": fmt.Sprintf("%040x", i+1), "message": "c", "added": []string{}, "removed": []string{}, "modified": paths})
	}
	b, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": before, "after": after, "created": false, "deleted": false,
		"commits": cs, "head_commit": map[string]any{"id": after},
		"repository": map[string]any{"full_name": "acme/site"}, "sender": map[string]any{"login": "alice"},
	})
	return b
}

// tasksOf lists the ids of a template's tasks.
func tasksOf(t *testing.T, d *daemon, project, template string) []uint64 {
	t.Helper()
	code, body := d.get("/api/v1/tasks?project=" + project + "&template=" + template)
	if code != 200 {
		t.Fatalf("list tasks: %d %s", code, body)
	}
	var ts []struct{ ID uint64 }
	if err := json.Unmarshal([]byte(body), &ts); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, x := range ts {
		ids = append(ids, x.ID)
	}
	return ids
}

// TestKill9AfterAcknowledgedDelivery kills the daemon right after it
// answered two pushes (one whose tasks were created with the answer, one
// whose paths still needed a diff), restarts it on the same data, and
// checks each template got exactly one task and a redelivery creates none.
func TestKill9AfterAcknowledgedDelivery(t *testing.T) {
	repo, first := testenv.GitRepo(t, map[string]string{"docs/a.md": "a", "README.md": "r"})
	var listed [][]string
	var last string
	for i := range 21 {
		if i == 0 {
			last = testenv.GitCommit(t, repo, map[string]string{"docs/a.md": "b"}, "docs")
			continue
		}
		last = testenv.GitCommit(t, repo, map[string]string{"README.md": strings.Repeat("r", i)}, "readme")
		listed = append(listed, []string{"README.md"})
	}
	cfg := configDir(t, map[string]string{
		"site.yaml": `project: site
repositories:
  site:
    url: ` + repo + `
    forge: {type: github, repo: acme/site, webhook_secret: {env: SEMAPHORED_TEST_SECRET}}
templates:
  any: {app: bash, repository: site, script: ok.sh, triggers: {push: {}}}
  docs: {app: bash, repository: site, script: ok.sh, triggers: {push: {paths: ["docs/**"]}}}
`,
	})
	if err := os.WriteFile(filepath.Join(repo, "ok.sh"), []byte("echo ok\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, "")
	body := githubPush(first, last, listed)
	code, a := postHook(t, d, "kill-9-delivery", body)
	if code != http.StatusCreated {
		t.Fatalf("push: %d %v", code, a)
	}
	d.kill(syscall.SIGKILL)

	d2 := startDaemon(t, cfg, d.data)
	code, again := postHook(t, d2, "kill-9-delivery", body)
	if code != http.StatusOK || again["status"] != "already processed" {
		t.Fatalf("redelivery after restart: %d %v", code, again)
	}
	testenv.WaitFor(t, "the docs task after the resumed diff", 20*time.Second, func() bool {
		return len(tasksOf(t, d2, "site", "docs")) == 1
	})
	if got := tasksOf(t, d2, "site", "any"); len(got) != 1 {
		t.Errorf("template any has tasks %v, want exactly one", got)
	}
	// The resumed delivery is complete: nothing more can follow.
	if got := tasksOf(t, d2, "site", "docs"); len(got) != 1 {
		t.Errorf("template docs has tasks %v, want exactly one", got)
	}
}

// TestServeScheduleAndIntegration runs the daemon with a schedule firing
// every second and an Alertmanager-style integration: both create tasks
// through the wiring of serve.
func TestServeScheduleAndIntegration(t *testing.T) {
	cfg := configDir(t, map[string]string{
		"ops.yaml": `project: ops
repositories:
  local: {url: .}
templates:
  tick: {app: bash, repository: local, script: ok.sh, allow_overrides: [vars]}
  heal: {app: bash, repository: local, script: ok.sh, allow_overrides: [vars]}
schedules:
  often: {cron: "@every 1s", template: tick}
integrations:
  alerts:
    template: heal
    auth: {type: token, header: Authorization, secret: {env: SEMAPHORED_TEST_SECRET}}
    matchers: [{body: status, equals: firing}]
    extractors: [{var: host, body: "alerts.0.labels.instance"}]
`,
		"ok.sh": "echo ok\n",
	})
	d := startDaemon(t, cfg, "")
	testenv.WaitFor(t, "a schedule task", 20*time.Second, func() bool {
		return len(tasksOf(t, d, "ops", "tick")) > 0
	})
	_, body := d.get("/api/v1/tasks?project=ops&template=tick")
	if !strings.Contains(body, `"trigger":"schedule"`) || !strings.Contains(body, `"triggered_by":"often"`) {
		t.Errorf("schedule task: %s", body)
	}
	alert := `{"status":"firing","alerts":[{"labels":{"instance":"web-1:9100"}}]}`
	req, _ := http.NewRequest("POST", d.url+"/hooks/integrations/ops/alerts", strings.NewReader(alert))
	req.Header.Set("Authorization", "Bearer "+hookSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"template":"heal"`) {
		t.Fatalf("integration: %d %s", resp.StatusCode, b)
	}
	var created struct{ Tasks []struct{ ID uint64 } }
	if err := json.Unmarshal(b, &created); err != nil || len(created.Tasks) != 1 {
		t.Fatalf("integration answer: %s", b)
	}
	_, body = d.get(fmt.Sprintf("/api/v1/tasks/%d", created.Tasks[0].ID))
	if !strings.Contains(body, `"host":"web-1:9100"`) || !strings.Contains(body, `"trigger":"integration"`) {
		t.Errorf("integration task: %s", body)
	}
	code, metrics := d.get("/metrics")
	if code != 200 || !strings.Contains(metrics, `semaphored_webhook_requests_total{event="call",result="created",source="integration"} 1`) ||
		!strings.Contains(metrics, "semaphored_schedule_fires_total") {
		t.Errorf("metrics: %d\n%s", code, metrics)
	}
}
