package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// pushPayload builds a GitHub push of before..after on main listing the
// given commits (each with its modified paths), from the real payload's
// shape.
func pushPayload(t *testing.T, before, after string, commits [][]string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "github/push_with-new-branch.payload.json"), &p); err != nil {
		t.Fatal(err)
	}
	c0 := p["commits"].([]any)[0].(map[string]any)
	var list []any
	for i, paths := range commits {
		c := map[string]any{}
		for k, v := range c0 {
			c[k] = v
		}
		c["id"] = strings.Repeat("c", 39) + string(rune('a'+i%6))
		c["added"], c["removed"], c["modified"] = []string{}, []string{}, paths
		list = append(list, c)
	}
	p["commits"] = list
	p["ref"], p["before"], p["after"], p["created"] = "refs/heads/main", before, after, false
	p["head_commit"] = map[string]any{"id": after}
	p["repository"].(map[string]any)["full_name"] = "acme/site"
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushPathsWithRealRepository(t *testing.T) {
	dir, first := testenv.GitRepo(t, map[string]string{"README.md": "x", "docs/a.md": "a", "web/site.yml": "- hosts: all"})
	// 25 commits: the first five change docs/, the last 20 only README.md.
	// GitHub lists the last 20: the docs change is not in the payload.
	var listed [][]string
	var last string
	for i := range 25 {
		if i < 5 {
			last = testenv.GitCommit(t, dir, map[string]string{"docs/a.md": strings.Repeat("a", i+2)}, "docs")
		} else {
			last = testenv.GitCommit(t, dir, map[string]string{"README.md": strings.Repeat("r", i+2)}, "readme")
			listed = append(listed, []string{"README.md"})
		}
	}
	cfg := loadConfig(t, map[string]string{"site.yaml": `project: site
repositories:
  site:
    url: ` + dir + `
    forge: {type: github, repo: acme/site, webhook_secret: {env: GH_SECRET}}
templates:
  docs: {app: bash, repository: site, script: d.sh, triggers: {push: {paths: ["docs/**"]}}}
  web: {app: bash, repository: site, script: w.sh, triggers: {push: {paths: ["web/**", "roles/**/*.yml"]}}}
  any: {app: bash, repository: site, script: a.sh, triggers: {push: {}}}
`})
	h := newHarness(t, cfg, nil)
	h.run()

	t.Run("too few commits listed: diff in the clone", func(t *testing.T) {
		body := pushPayload(t, first, last, listed)
		r := h.post("/hooks/github", github("push", "p-25", "gh-s3cret", body), body)
		if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 || r.answer.Tasks[0].Template != "any" ||
			!slices.Equal(r.answer.Pending, []string{"site/docs", "site/web"}) {
			t.Fatalf("got %d %+v", r.code, r.answer)
		}
		// The delivery is completed in the store before its new task is
		// handed to the engine: wait for both.
		waitFor(t, "the diff and its task adopted", func() bool {
			p, _ := h.store.PendingDeliveries(context.Background())
			adopted, _ := h.engine.snapshot()
			return len(p) == 0 && len(adopted) >= 2
		})
		d, tasks, _ := h.store.Delivery(context.Background(), "github", "p-25")
		var got []string
		for _, task := range tasks {
			got = append(got, task.Template)
			if task.Commit != last {
				t.Errorf("task %d at %s, want %s", task.ID, task.Commit, last)
			}
		}
		if !slices.Equal(got, []string{"any", "docs"}) {
			t.Errorf("tasks %v, want any and docs (the docs change was not listed)", got)
		}
		if !strings.Contains(d.Note, "site/web: paths did not match") || !strings.Contains(d.Note, "tasks for site/any, site/docs") {
			t.Errorf("note %q", d.Note)
		}
		if adopted, _ := h.engine.snapshot(); len(adopted) != 2 {
			t.Errorf("adopted %v", adopted)
		}
	})
	t.Run("complete list: paths match and do not", func(t *testing.T) {
		before := last
		after := testenv.GitCommit(t, dir, map[string]string{"web/site.yml": "- hosts: web"}, "web")
		body := pushPayload(t, before, after, [][]string{{"web/site.yml"}})
		r := h.post("/hooks/github", github("push", "p-1", "gh-s3cret", body), body)
		var got []string
		for _, task := range r.answer.Tasks {
			got = append(got, task.Template)
		}
		if r.code != http.StatusCreated || !slices.Equal(got, []string{"any", "web"}) || len(r.answer.Pending) != 0 ||
			!slices.Equal(r.answer.Reasons, []string{"site/docs: paths did not match"}) {
			t.Errorf("got %d %+v", r.code, r.answer)
		}
	})
}

// TestPendingDiffRetriedWhileTheForgeIsDown keeps a delivery pending while
// its repository cannot be reached, and completes it with the reason once
// RetryFor has passed.
func TestPendingDiffRetriedWhileTheForgeIsDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg := loadConfig(t, map[string]string{"site.yaml": `project: site
repositories:
  site:
    url: ` + down.URL + `/acme/site.git
    forge: {type: github, repo: acme/site, webhook_secret: {env: GH_SECRET}}
templates:
  docs: {app: bash, repository: site, script: d.sh, triggers: {push: {paths: ["docs/**"]}}}
`})
	h := newHarness(t, cfg, nil)
	var mu sync.Mutex
	now := time.Now()
	h.recv.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// 20 listed commits: GitHub may have cut the list.
	var twenty [][]string
	for range 20 {
		twenty = append(twenty, []string{"README.md"})
	}
	body := pushPayload(t, strings.Repeat("1", 40), strings.Repeat("2", 40), twenty)
	if r := h.post("/hooks/github", github("push", "down-1", "gh-s3cret", body), body); r.code != http.StatusAccepted {
		t.Fatalf("got %d %+v", r.code, r.answer)
	}
	pending := func() []state.Delivery {
		p, err := h.store.PendingDeliveries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.recv.complete(context.Background(), pending()[0])
	if p := pending(); len(p) != 1 {
		t.Fatalf("after a transient failure: %d pending, want the delivery kept", len(p))
	}
	mu.Lock()
	now = now.Add(RetryFor + time.Minute)
	mu.Unlock()
	h.recv.complete(context.Background(), pending()[0])
	if p := pending(); len(p) != 0 {
		t.Fatalf("after RetryFor: %d pending, want it completed", len(p))
	}
	d, tasks, err := h.store.Delivery(context.Background(), "github", "down-1")
	if err != nil || len(tasks) != 0 || !strings.Contains(d.Note, "site/docs: changed paths could not be computed") {
		t.Errorf("delivery %+v, %d tasks, %v", d, len(tasks), err)
	}
}
