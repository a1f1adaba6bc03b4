package exec

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

// gitHarness runs bash templates from a real local git repository.
func gitHarness(b testing.TB, global int, tmpls ...*config.Template) (*harness, string) {
	b.Helper()
	testenv.LookTool(b, "bash")
	dir, sha := testenv.GitRepo(b, map[string]string{"job.sh": "echo hello\n"})
	cfg := testConfig(dir, tmpls...)
	cfg.Settings.MaxParallelTasks = global
	return newHarness(b, cfg), sha
}

func TestGitRepositoryCheckout(t *testing.T) {
	h, sha := gitHarness(t, 4, &config.Template{Name: "a"})
	task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
	if task.Status != state.StatusSuccess {
		t.Fatalf("got %s (%s), want success", task.Status, task.Message)
	}
	if task.Commit != sha {
		t.Errorf("commit: got %q, want the resolved head %q", task.Commit, sha)
	}
	lines := h.lines(task.ID)
	if !contains(lines, "at "+sha[:7]) || !contains(lines, "hello") {
		t.Errorf("log %q: want the checkout line at %s and the output", lines, sha[:7])
	}
}

func TestCheckoutFailureIsError(t *testing.T) {
	tests := []struct {
		name, url, want, secret string
	}{
		{"unreachable", "http://127.0.0.1:1/nothing.git", "http://127.0.0.1:1/nothing.git: ", ""},
		{"credentials redacted", "http://deploy:s3cret-pw@127.0.0.1:1/nothing.git", "127.0.0.1:1/nothing.git: ", "s3cret-pw"},
		{"missing local path", "/nonexistent/semaphored/repo", "checkout /nonexistent/semaphored/repo: ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir(), &config.Template{Name: "a"})
			cfg.Projects["p"].Repositories["r"].URL = tt.url
			h := newHarness(t, cfg)
			task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
			if task.Status != state.StatusError || !containsStr(task.Message, tt.want) {
				t.Errorf("got %s %q, want error naming %q", task.Status, task.Message, tt.want)
			}
			// The git cache names the operation and URL; the engine must
			// not name them again ("checkout URL: checkout URL: ...").
			if n := strings.Count(task.Message, tt.want); n != 1 {
				t.Errorf("message %q: got %q %d times, want once", task.Message, tt.want, n)
			}
			if tt.secret != "" && (strings.Contains(task.Message, tt.secret) || contains(h.lines(task.ID), tt.secret)) {
				t.Errorf("message %q or log %q holds the password", task.Message, h.lines(task.ID))
			}
		})
	}
}

// BenchmarkTrivialTask measures Submit → success observed for echo hello
// from a cached local git repository.
func BenchmarkTrivialTask(b *testing.B) {
	h, _ := gitHarness(b, 4, &config.Template{Name: "a"})
	h.wait(h.submit("p", "a").ID, state.StatusSuccess) // warm the cache
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
		lat = append(lat, time.Since(start))
		if task.Status != state.StatusSuccess {
			b.Fatalf("got %s (%s)", task.Status, task.Message)
		}
	}
	b.StopTimer()
	var direct []time.Duration
	for range 50 {
		start := time.Now()
		if err := exec.Command("bash", "-c", "echo hello").Run(); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	p50, p99 := pct(lat, 50), pct(lat, 99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64((p50-pct(direct, 50)).Microseconds())/1000, "overhead-p50-ms")
}

// BenchmarkThroughput500 runs 500 trivial tasks over 10 templates with a
// global limit of 8.
func BenchmarkThroughput500(b *testing.B) {
	var tmpls []*config.Template
	for i := range 10 {
		tmpls = append(tmpls, &config.Template{Name: fmt.Sprint("t", i), Concurrency: 8})
	}
	h, _ := gitHarness(b, 8, tmpls...)
	h.wait(h.submit("p", "t0").ID, state.StatusSuccess)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		var ids []uint64
		for i := range 500 {
			task, err := h.e.Submit(context.Background(), task.Request{Project: "p", Template: fmt.Sprint("t", i%10)})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, task.ID)
		}
		for _, id := range ids {
			if task := h.wait(id, state.StatusSuccess, state.StatusFailure, state.StatusError); task.Status != state.StatusSuccess {
				b.Fatalf("task %d: got %s (%s)", id, task.Status, task.Message)
			}
		}
		b.ReportMetric(500/time.Since(start).Seconds(), "tasks/s")
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[(len(s)-1)*p/100]
}
