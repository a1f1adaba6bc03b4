package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/semaphored/semaphored/internal/testenv"
)

// statusForge is a GitHub API fake that records the commit statuses it
// accepts, or answers 503 while down.
type statusForge struct {
	mu       sync.Mutex
	down     bool
	statuses []map[string]string
	attempts int
}

func (f *statusForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer s3cr3t-value-for-tests" || !strings.HasPrefix(r.URL.Path, "/api/v3/repos/acme/site/statuses/") {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Bad credentials"}`)
		return
	}
	var st map[string]string
	json.Unmarshal(b, &st)
	st["sha"] = strings.TrimPrefix(r.URL.Path, "/api/v3/repos/acme/site/statuses/")
	f.statuses = append(f.statuses, st)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"id":1}`)
}

// final returns the last status posted for sha, or nil.
func (f *statusForge) final(sha string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last map[string]string
	for _, s := range f.statuses {
		if s["sha"] == sha {
			last = s
		}
	}
	return last
}

// gitRepo makes a git repository with one commit on main and returns its
// path and head.
func gitRepo(t *testing.T) (string, string) {
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("echo deploying\nprintf '\\033[32mok\\033[0m\\n'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "init")
	return dir, run("rev-parse", "HEAD")
}

// TestCommitStatusesEndToEnd: the daemon posts a task's commit statuses
// to its forge, with a signed link to the task page that opens it; with
// the forge down and the daemon killed (kill -9), the next start delivers
// the pending status.
func TestCommitStatusesEndToEnd(t *testing.T) {
	forge := &statusForge{}
	srv := httptest.NewServer(forge)
	defer srv.Close()
	repo, sha := gitRepo(t)
	cfg := configDir(t, map[string]string{"web.yaml": `project: web
repositories:
  site:
    url: ` + repo + `
    forge:
      type: github
      api_url: ` + srv.URL + `/api/v3/
      repo: acme/site
      token: {env: SEMAPHORED_TEST_SECRET}
templates:
  deploy: {app: bash, repository: site, script: run.sh}
`})
	data := t.TempDir()
	d := startDaemon(t, cfg, data)
	id := d.create("web", "deploy", "{}")
	d.waitSuccess(id, 30*time.Second)
	testenv.WaitFor(t, "the success status", 10*time.Second, func() bool {
		s := forge.final(sha)
		return s != nil && s["state"] == "success"
	})
	st := forge.final(sha)
	if st["context"] != "semaphored/web/deploy" || !strings.HasPrefix(st["description"], "exit code 0; in ") {
		t.Errorf("status %v", st)
	}
	if !strings.HasPrefix(st["target_url"], d.url+"/tasks/") || !strings.Contains(st["target_url"], "&sig=") {
		t.Fatalf("target_url %q, want a signed link under %s", st["target_url"], d.url)
	}
	resp, err := http.Get(st["target_url"])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "web/deploy #") || !strings.Contains(string(page), `<span class="f32">ok</span>`) {
		t.Errorf("task page: %d\n%.500s", resp.StatusCode, page)
	}

	// The admin token opens the page too; nothing opens it without one.
	if code, body := d.get("/tasks/" + strconv.FormatUint(id, 10)); code != 200 || !strings.Contains(body, "web/deploy #") {
		t.Errorf("task page with the admin token: %d", code)
	}
	resp, err = http.Get(d.url + "/tasks/" + strconv.FormatUint(id, 10))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("task page without a credential: got %d, want 401", resp.StatusCode)
	}

	// The whole daemon's /metrics, every subsystem running: promlint-clean,
	// with the outbox's and the page's series.
	resp, err = http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problems, err := promlint.New(bytes.NewReader(scrape)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{`semaphored_outbox_delivered_total{destination="github",kind="commit_status"} `, `semaphored_task_page_requests_total{auth="link",code="200",route="page"} 1`} {
		if !bytes.Contains(scrape, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Forge down, a second task, kill -9 while its status waits.
	forge.mu.Lock()
	forge.down = true
	before := forge.attempts
	forge.mu.Unlock()
	id2 := d.create("web", "deploy", "{}")
	d.waitSuccess(id2, 30*time.Second)
	testenv.WaitFor(t, "an attempt while down", 10*time.Second, func() bool {
		forge.mu.Lock()
		defer forge.mu.Unlock()
		return forge.attempts > before
	})
	d.kill(syscall.SIGKILL)
	forge.mu.Lock()
	n := len(forge.statuses)
	forge.down = false
	forge.mu.Unlock()
	startDaemon(t, cfg, data)
	testenv.WaitFor(t, "the pending status after the restart", 30*time.Second, func() bool {
		forge.mu.Lock()
		defer forge.mu.Unlock()
		for _, s := range forge.statuses[n:] {
			if s["state"] == "success" && strings.Contains(s["target_url"], "/tasks/"+strconv.FormatUint(id2, 10)+"?") {
				return true
			}
		}
		return false
	})
}
