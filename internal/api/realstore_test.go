package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
	"github.com/semaphored/semaphored/internal/task"
)

// openStore opens a real state file in a temporary directory with n tasks
// over two projects; task 1 has a log of logLines lines.
func openStore(t testing.TB, n, logLines int) *state.Store {
	t.Helper()
	s := statetest.Open(t, "", state.Options{})
	ctx := context.Background()
	for i := range n {
		p, tpl := "web", "deploy"
		if i%2 == 1 {
			p, tpl = "db", "backup"
		}
		if _, err := s.CreateTask(ctx, state.Task{Request: task.Request{Project: p, Template: tpl, Trigger: task.Trigger{Type: "api"}, Overrides: task.Overrides{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main", Vars: map[string]any{"env": "prod", "n": i}}}}); err != nil {
			t.Fatalf("create task: %v", err)
		}
	}
	var lines []state.LogLine
	for i := range logLines {
		lines = append(lines, state.LogLine{Time: time.Now(), Text: fmt.Sprintf("TASK [line %d] ok", i+1)})
	}
	if logLines > 0 {
		if err := s.AppendLog(ctx, 1, lines); err != nil {
			t.Fatalf("append log: %v", err)
		}
	}
	return s
}

// realHandler serves a real state store; the engine is a fake one only
// for the calls these tests do not make.
func realHandler(t testing.TB, s *state.Store) *api.Handler {
	t.Helper()
	h, err := api.New(api.Options{
		Engine:     &apitest.Engine{Store: apitest.NewStore()},
		Store:      s,
		Config:     apitest.NewConfig(testConfig()),
		Secrets:    &apitest.Secrets{},
		AdminToken: adminToken,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h *api.Handler, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRealStorePagingAndLog lists every task of a real BoltDB store
// through the Link header and reads a log longer than one batch.
func TestRealStorePagingAndLog(t *testing.T) {
	s := openStore(t, 1234, 1500)
	h := realHandler(t, s)
	tests := []struct {
		query string
		want  int
	}{
		{"", 1234},
		{"?limit=1000", 1234},
		{"?project=db&limit=100", 617},
		{"?status=waiting&limit=999", 1234},
		{"?status=success", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			path, seen := "/api/v1/tasks"+tt.query, 0
			last := uint64(1 << 62)
			for path != "" {
				rec := get(h, path)
				if rec.Code != 200 {
					t.Fatalf("GET %s: got %d %s", path, rec.Code, rec.Body)
				}
				for _, tk := range decode[[]api.Task](t, rec) {
					if tk.ID >= last {
						t.Fatalf("task %d after %d: want newest first", tk.ID, last)
					}
					last = tk.ID
					seen++
				}
				path = nextLink(t, rec.Header().Get("Link"))
			}
			if seen != tt.want {
				t.Errorf("got %d tasks, want %d", seen, tt.want)
			}
		})
	}
	rec := get(h, "/api/v1/tasks/1/log")
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	if len(lines) != 1500 || lines[0] != "TASK [line 1] ok" || lines[1499] != "TASK [line 1500] ok" {
		t.Errorf("log: got %d lines (first %q), want 1500", len(lines), lines[0])
	}
	rec = get(h, "/api/v1/tasks/1/log?from=1001")
	if got := strings.Count(rec.Body.String(), "\n"); got != 500 {
		t.Errorf("log from line 1001: got %d lines, want 500", got)
	}
	if rec := get(h, "/api/v1/tasks/99999"); rec.Code != 404 {
		t.Errorf("unknown task in a real store: got %d, want 404", rec.Code)
	}
}

// TestMemoryFlat serves 50,000 requests (list 20 tasks, get a task, list
// projects; 10,000 under -race) and checks the live heap after GC stays where it started:
// the handler keeps nothing per request.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 requests")
	}
	s := openStore(t, 300, 0)
	h := realHandler(t, s)
	paths := []string{"/api/v1/tasks?limit=20", "/api/v1/tasks/7", "/api/v1/projects"}
	serve := func(n int) {
		for i := range n {
			if rec := get(h, paths[i%len(paths)]); rec.Code != 200 {
				t.Fatalf("GET %s: got %d", paths[i%len(paths)], rec.Code)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	n := 50_000
	if raceEnabled {
		n = 10_000 // the race detector makes each request ~10x slower
	}
	serve(300) // warm up: token set, metric series, pools
	before := heap()
	serve(n)
	after := heap()
	grown := int64(after) - int64(before)
	t.Logf("heap before %d B, after %d requests %d B: %+d B (%.3f B/request)", before, n, after, grown, float64(grown)/float64(n))
	if grown > 5<<20 {
		t.Errorf("heap grew %d bytes over %d requests, want under 5 MiB", grown, n)
	}
}

// BenchmarkListTasks lists 200 tasks of a real state store per request.
func BenchmarkListTasks(b *testing.B) {
	s := openStore(b, 1000, 0)
	h := realHandler(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec := get(h, "/api/v1/tasks?limit=200"); rec.Code != 200 {
			b.Fatalf("got %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkListTasksParallel is the same over every core.
func BenchmarkListTasksParallel(b *testing.B) {
	s := openStore(b, 1000, 0)
	h := realHandler(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := get(h, "/api/v1/tasks?limit=200"); rec.Code != 200 {
				b.Errorf("got %d", rec.Code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
}
