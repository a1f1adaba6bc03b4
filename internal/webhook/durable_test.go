package webhook

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// TestDurableAcrossRestart records a delivery whose paths need a diff in
// a real BoltDB store, closes the store before the worker ran (the
// process died after its answer), and reopens it: the next process
// completes the delivery once, and a redelivery creates nothing.
func TestDurableAcrossRestart(t *testing.T) {
	dir, first := testenv.GitRepo(t, map[string]string{"docs/a.md": "a", "README.md": "r"})
	var listed [][]string
	var last string
	for i := range 22 {
		if i == 0 {
			last = testenv.GitCommit(t, dir, map[string]string{"docs/a.md": "b"}, "docs")
			continue
		}
		last = testenv.GitCommit(t, dir, map[string]string{"README.md": strings.Repeat("r", i)}, "readme")
		listed = append(listed, []string{"README.md"})
	}
	cfg := loadConfig(t, map[string]string{"site.yaml": `project: site
repositories:
  site:
    url: ` + dir + `
    forge: {type: github, repo: acme/site, webhook_secret: {env: GH_SECRET}}
templates:
  docs: {app: bash, repository: site, script: d.sh, triggers: {push: {paths: ["docs/**"]}}}
  any: {app: bash, repository: site, script: a.sh, triggers: {push: {}}}
`})
	path := filepath.Join(t.TempDir(), "state.db")
	body := pushPayload(t, first, last, listed)
	hdr := github("push", "kill-9", "gh-s3cret", body)

	s1 := openStore(t, path)
	h1 := newHarness(t, cfg, s1)
	r := h1.post("/hooks/github", hdr, body)
	if r.code != http.StatusCreated || len(r.answer.Tasks) != 1 || !slices.Equal(r.answer.Pending, []string{"site/docs"}) {
		t.Fatalf("got %d %+v", r.code, r.answer)
	}
	h1.srv.Close()
	if err := s1.Close(); err != nil { // the process is gone; its worker never ran
		t.Fatal(err)
	}

	s2 := openStore(t, path)
	h2 := newHarness(t, cfg, s2)
	h2.run()
	waitFor(t, "the pending delivery completed after the restart", func() bool {
		p, err := s2.PendingDeliveries(context.Background())
		return err == nil && len(p) == 0
	})
	again := h2.post("/hooks/github", hdr, body)
	if again.code != http.StatusOK || again.answer.Status != "already processed" {
		t.Errorf("redelivery: got %d %+v", again.code, again.answer)
	}
	d, tasks, err := s2.Delivery(context.Background(), "github", "kill-9")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range tasks {
		got = append(got, task.Template)
	}
	if !slices.Equal(got, []string{"any", "docs"}) || d.Pending {
		t.Errorf("tasks %v pending %v, want any and docs, done", got, d.Pending)
	}
	all, err := s2.Tasks(context.Background(), state.TaskFilter{}, 0, 100)
	if err != nil || len(all) != 2 {
		t.Errorf("store holds %d tasks (%v), want exactly 2", len(all), err)
	}
}

// TestConcurrentRedeliveries sends one delivery many times at once to a
// real store: one task, every answer names it.
func TestConcurrentRedeliveries(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"web.yaml": webConfig})
	s := openStore(t, "")
	h := newHarness(t, cfg, s)
	body := fixture(t, "github/push_with-new-branch.payload.json")
	var wg sync.WaitGroup
	ids := make([]uint64, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.post("/hooks/github", github("push", "same", "gh-s3cret", body), body)
			if len(r.answer.Tasks) == 1 {
				ids[i] = r.answer.Tasks[0].ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == 0 || id != ids[0] {
			t.Fatalf("answers name tasks %v, want one task", ids)
		}
	}
	all, _ := s.Tasks(context.Background(), state.TaskFilter{}, 0, 100)
	if len(all) != 1 {
		t.Errorf("got %d tasks, want 1", len(all))
	}
}
