package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/state"
)

// bigVars returns vars of about size bytes of JSON: string values of
// 1 KiB under numbered keys.
func bigVars(size int) map[string]any {
	v := map[string]any{}
	val := strings.Repeat("x", 1000)
	for i := range size / 1024 {
		v[fmt.Sprintf("key%05d", i)] = val
	}
	return v
}

// storeWithBigTasks opens a real state store holding n tasks with about
// varsSize bytes of vars each, created directly in the store as a daemon
// without the vars limit could have.
func storeWithBigTasks(t testing.TB, n, varsSize int) *state.Store {
	t.Helper()
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	vars := bigVars(varsSize)
	for i := range n {
		p := "web"
		if i%2 == 1 {
			p = "db"
		}
		var task state.Task // fields set one by one: where they live may change
		task.Project, task.Template, task.Vars = p, "deploy", vars
		if _, err := s.CreateTask(context.Background(), task); err != nil {
			t.Fatalf("create task: %v", err)
		}
	}
	return s
}

// heapSampler records the largest live heap seen while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) peak() uint64 {
	close(h.stop)
	return <-h.done
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestListBoundedMemory is the regression test of a list that held every
// task of the page, encoded whole: 40 tasks with 1 MB of vars each,
// listed with limit=1000 by four callers at once over real HTTP, must not
// grow the heap by more than 50 MB (it grew by 426 MB here, and 1.7 GB in
// the daemon, before the list was streamed).
func TestListBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 40 MB of tasks eight times")
	}
	const varsSize, callers = 1 << 20, 4
	tasks := 40
	if raceEnabled {
		tasks = 10 // the race detector makes JSON ten times slower
	}
	s := storeWithBigTasks(t, tasks, varsSize)
	srv := httptest.NewServer(realHandler(t, s))
	defer srv.Close()

	list := func() (int64, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/tasks?limit=1000", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("got %d", resp.StatusCode)
		}
		return io.Copy(io.Discard, resp.Body)
	}
	if _, err := list(); err != nil { // warm up: token set, connections
		t.Fatal(err)
	}
	before := liveHeap()
	sampler := sampleHeap()
	var wg sync.WaitGroup
	sizes := make([]int64, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { sizes[i], errs[i] = list() })
	}
	wg.Wait()
	peak := sampler.peak()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	grown := int64(peak) - int64(before)
	t.Logf("%d callers listing %d tasks of %d bytes of vars (%d bytes each answer): heap %d MB before, peak %d MB (%+d MB)",
		callers, tasks, varsSize, sizes[0], before>>20, peak>>20, grown>>20)
	if grown > 50<<20 {
		t.Errorf("heap grew by %d MB, want under 50 MB", grown>>20)
	}

	// The streamed answer is a JSON array of every task, newest first.
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/tasks?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		t.Fatalf("answer starts with %v (%v), want [", tok, err)
	}
	want := uint64(tasks)
	for dec.More() {
		var task struct {
			ID uint64 `json:"id"`
		}
		if err := dec.Decode(&task); err != nil {
			t.Fatal(err)
		}
		if task.ID != want {
			t.Fatalf("got task %d, want task %d", task.ID, want)
		}
		want--
	}
	if want != 0 {
		t.Errorf("answer ended before task %d", want)
	}
}

// TestListLargePages pages through tasks whose pages are too large to be
// encoded whole (they are streamed after a counting pass) and checks the
// pages are what small pages (encoded whole) answer: the same tasks,
// newest first, each the same bytes, in compact JSON, with Link headers
// through to the end, for a token limited to two of the three projects.
func TestListLargePages(t *testing.T) {
	f := newFixture(t)
	vars := bigVars(8 << 10)
	var want []uint64
	for i := range 300 {
		p := []string{"web", "db", "ops"}[i%3]
		task := state.Task{Status: state.StatusSuccess}
		task.Project, task.Template, task.Vars = p, "deploy", vars
		task = f.store.Add(task)
		if p != "ops" {
			want = append([]uint64{task.ID}, want...)
		}
	}
	small := map[uint64]string{} // the items of the limit=7 pages
	for _, limit := range []int{7, 100, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			if limit > 7 {
				// Whatever a list item holds, these pages are streamed.
				api.SetListBuffer(f.h, 2<<10)
			}
			var got []uint64
			path := fmt.Sprintf("/api/v1/tasks?limit=%d", limit)
			for path != "" {
				rec := f.do(t, "GET", path, webDBToken, "")
				if rec.Code != 200 {
					t.Fatalf("GET %s: got %d %s", path, rec.Code, rec.Body)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, rec.Body.Bytes()); err != nil || compact.String()+"\n" != rec.Body.String() {
					t.Fatalf("GET %s: not one compact JSON value and a newline (%v)", path, err)
				}
				page := decode[[]json.RawMessage](t, rec)
				for _, item := range page {
					var task struct {
						ID uint64 `json:"id"`
					}
					if err := json.Unmarshal(item, &task); err != nil {
						t.Fatal(err)
					}
					if limit == 7 {
						small[task.ID] = string(item)
					} else if string(item) != small[task.ID] {
						t.Fatalf("task %d: got %.80s..., want %.80s... as in a small page", task.ID, item, small[task.ID])
					}
					got = append(got, task.ID)
				}
				path = nextLink(t, rec.Header().Get("Link"))
				if path != "" && len(page) != limit {
					t.Fatalf("a page of %d with a next link, want %d", len(page), limit)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got tasks %v, want %v", got, want)
			}
		})
	}
}
