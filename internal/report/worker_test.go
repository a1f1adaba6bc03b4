package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// githubFake speaks GitHub's create-commit-status endpoint
// (POST /api/v3/repos/{o}/{r}/statuses/{sha}, 201 with the status) and
// records what it accepted. mode picks the answer: "up", "down" (503),
// "429" (Retry-After: 120), "422" (a final refusal).
type githubFake struct {
	mu       sync.Mutex
	mode     string
	got      []posted
	requests int
	notify   chan struct{}
}

type posted struct {
	SHA, State, Context, Description, TargetURL string
}

func newGitHubFake() *githubFake { return &githubFake{mode: "up", notify: make(chan struct{}, 1000)} }

func (f *githubFake) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *githubFake) accepted() []posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]posted(nil), f.got...)
}

func (f *githubFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	mode := f.mode
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	parts := strings.Split(r.URL.Path, "/")
	if r.Method != http.MethodPost || len(parts) != 8 || parts[4] != "acme" || parts[6] != "statuses" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer s3cr3t" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
		return
	}
	switch mode {
	case "down":
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"message":"Service Unavailable"}`)
		return
	case "429":
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"message":"You have exceeded a secondary rate limit"}`)
		return
	case "422":
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"message":"No commit found for SHA: `+parts[7]+`","documentation_url":"https://docs.github.com/rest/commits/statuses#create-a-commit-status","status":"422"}`)
		return
	}
	var body struct {
		State, Context, Description string
		TargetURL                   string `json:"target_url"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.got = append(f.got, posted{parts[7], body.State, body.Context, body.Description, body.TargetURL})
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"url":"https://api.github.com/repos/acme/site/statuses/`+parts[7]+`","id":1,"state":"`+body.State+`","context":"`+body.Context+`"}`)
	f.notify <- struct{}{}
}

// handlerTransport serves requests with a handler in memory, so that
// tests in a synctest bubble (fake time) have no real network.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

type testRig struct {
	store  *testStore
	rep    *Reporter
	worker *Worker
	fake   *githubFake
	reg    *prom.Registry
}

// newRig wires a reporter, a BoltDB state in dir (its Outbox option the
// reporter's) and a worker whose status sender talks to a GitHub fake at
// url (or in memory when url is empty). now nil means time.Now.
func newRig(t testing.TB, url string, fake *githubFake, dir string, now func() time.Time) *testRig {
	t.Helper()
	mem := url == ""
	if mem {
		url = "http://github.test"
	}
	cfg := loadConfig(t, url+"/api/v3/")
	rep := NewReporter(nil)
	rep.SetConfig(cfg)
	store := openStore(t, dir, rep.OutboxFunc)
	signer, err := link.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if mem {
		hc = &http.Client{Transport: handlerTransport{fake}}
	}
	reg := prom.NewRegistry()
	w, err := NewWorker(WorkerOptions{
		Outbox: store,
		Senders: map[OutboxKind]Sender{KindCommitStatus: &StatusSender{
			Tasks:      store,
			Secrets:    &config.Resolver{LookupEnv: func(string) (string, bool) { return "s3cr3t", true }},
			Links:      &Links{Signer: signer, PublicURL: "https://ci.example.com"},
			HTTPClient: hc,
		}},
		Registerer: reg,
		Now:        now,
		MinBackoff: time.Second,
		MaxBackoff: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.OnEnqueue(w.Wake)
	return &testRig{store: store, rep: rep, worker: w, fake: fake, reg: reg}
}

func (r *testRig) run(t testing.TB) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.worker.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 10*time.Second, cond)
}

// startRig is newRig against a GitHub fake in mode ("up", "422", ...)
// behind a real HTTP server at url, with the worker running until the
// test ends.
func startRig(t testing.TB, mode string) (rig *testRig, url string) {
	t.Helper()
	fake := newGitHubFake()
	fake.setMode(mode)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	rig = newRig(t, srv.URL, fake, t.TempDir(), nil)
	t.Cleanup(rig.run(t))
	return rig, srv.URL
}

func TestWorkerDelivers(t *testing.T) {
	rig, _ := startRig(t, "up")
	fake := rig.fake

	lifecycle(rig.store, sha, state.StatusSuccess)
	delivered := func() float64 {
		return rig.worker.Metrics().delivered.WithLabelValues("commit_status", "github").Value()
	}
	waitFor(t, "the final status", func() bool {
		return rig.store.pending() == 0 && len(fake.accepted()) > 0 && delivered() == float64(len(fake.accepted()))
	})
	got := fake.accepted()
	last := got[len(got)-1]
	if last.State != "success" || last.Context != "semaphored/web/deploy" || last.SHA != sha {
		t.Errorf("last status %+v, want success", last)
	}
	if last.Description != "ansible: 3 ok, 1 changed, 0 failed, 0 unreachable on 1 host; in 2s" {
		t.Errorf("description %q", last.Description)
	}
	if !strings.HasPrefix(last.TargetURL, "https://ci.example.com/tasks/1?exp=") || !strings.Contains(last.TargetURL, "&sig=") {
		t.Errorf("target_url %q, want a signed task link", last.TargetURL)
	}
	// Statuses of one target are delivered in order: whatever subset the
	// replacement left, it ends with the last state and never goes back.
	order := map[string]int{"pending": 0, "success": 1}
	for i := 1; i < len(got); i++ {
		if order[got[i].State] < order[got[i-1].State] {
			t.Errorf("out of order: %v", got)
		}
	}
	if v := delivered(); v != float64(len(got)) {
		t.Errorf("delivered metric %v, want %d", v, len(got))
	}
}

func TestWorkerFinalRefusal(t *testing.T) {
	rig, _ := startRig(t, "422")
	rig.store.create(newTask("web", "deploy", sha, state.StatusWaiting))
	waitFor(t, "a failed entry", func() bool {
		return len(rig.store.failedEntries()) == 1 && rig.worker.Metrics().failed.WithLabelValues("commit_status", "github").Value() == 1
	})
	f := rig.store.failedEntries()[0]
	if !strings.Contains(f.LastError, "No commit found for SHA") || strings.Contains(f.LastError, "s3cr3t") {
		t.Errorf("last error %q: want the forge's message, never the token", f.LastError)
	}
	if f.Attempts != 1 {
		t.Errorf("attempts %d, want 1 (a 4xx is not retried)", f.Attempts)
	}
	if v := rig.worker.Metrics().failed.WithLabelValues("commit_status", "github").Value(); v != 1 {
		t.Errorf("failed metric %v, want 1", v)
	}
}

// TestConfigStatus: a rejected config revision gets a failure status with
// its first errors on the config repository, then an accepted one success.
func TestConfigStatus(t *testing.T) {
	rig, url := startRig(t, "up")
	fake := rig.fake
	f := &config.Forge{Type: config.ForgeGitHub, APIURL: url + "/api/v3/", Repo: "acme/config", Token: &config.Secret{Env: "T"}}
	bad, good := strings.Repeat("b", 40), strings.Repeat("c", 40)
	ctx := context.Background()
	if err := rig.rep.ReportConfig(ctx, rig.store, f, bad, false, []string{`web.yaml:3:5: projects.web.templates.x.app: invalid value "ansibel"`}); err != nil {
		t.Fatal(err)
	}
	if err := rig.rep.ReportConfig(ctx, rig.store, f, good, true, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "config statuses", func() bool { return len(fake.accepted()) == 2 })
	got := map[string]posted{}
	for _, p := range fake.accepted() {
		got[p.SHA] = p
	}
	if p := got[bad]; p.State != "failure" || p.Context != "semaphored/config" || !strings.HasPrefix(p.Description, "web.yaml:3:5: ") || p.TargetURL != "" {
		t.Errorf("invalid revision: %+v", p)
	}
	if p := got[good]; p.State != "success" || p.Context != "semaphored/config" {
		t.Errorf("valid revision: %+v", p)
	}

	// A revision that becomes active, as the syncer's Subscribe reports it.
	active := strings.Repeat("d", 40)
	cfg := &config.Config{Settings: config.Settings{ConfigRepo: &config.ConfigRepo{Forge: f}}}
	if err := rig.rep.ConfigActive(ctx, rig.store, config.Snapshot{Config: cfg, Revision: active}); err != nil {
		t.Fatal(err)
	}
	if err := rig.rep.ConfigActive(ctx, rig.store, config.Snapshot{Config: &config.Config{}, Revision: active}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the active revision's status", func() bool { return len(fake.accepted()) == 3 })
	if p := fake.accepted()[2]; p.SHA != active || p.State != "success" || p.Context != "semaphored/config" {
		t.Errorf("active revision: %+v", p)
	}

	// A rejected revision, as the syncer's OnRejected reports it: on the
	// forge of the active config; nothing when that declares none.
	rejected := strings.Repeat("e", 40)
	if err := rig.rep.ConfigRejected(ctx, rig.store, config.Snapshot{Config: cfg, Revision: active}, rejected, []string{"a.yaml:1:1: bad"}); err != nil {
		t.Fatal(err)
	}
	if err := rig.rep.ConfigRejected(ctx, rig.store, config.Snapshot{Config: &config.Config{}, Revision: active}, rejected, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejected revision's status", func() bool { return len(fake.accepted()) == 4 })
	if p := fake.accepted()[3]; p.SHA != rejected || p.State != "failure" || p.Description != "a.yaml:1:1: bad" {
		t.Errorf("rejected revision: %+v", p)
	}
}

// TestWorkerForgeDownAnHour: with the forge answering 503 for a
// (simulated) hour, nothing is lost and the last state of every target
// arrives once it is back, with backoff in between (not a retry storm).
func TestWorkerForgeDownAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newGitHubFake()
		fake.setMode("down")
		rig := newRig(t, "", fake, t.TempDir(), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- rig.worker.Run(ctx) }()

		commits := []string{}
		for i := range 20 {
			c := strings.Repeat(string(rune('a'+i)), 40)
			commits = append(commits, c)
			end := state.StatusSuccess
			if i%3 == 0 {
				end = state.StatusFailure
			}
			lifecycle(rig.store, c, end)
			time.Sleep(time.Minute)
		}
		time.Sleep(40 * time.Minute) // an hour in all
		synctest.Wait()
		fake.mu.Lock()
		tries := fake.requests
		fake.mu.Unlock()
		if rig.store.pending() != 20 {
			t.Fatalf("pending %d after an hour down, want 20 (one per commit)", rig.store.pending())
		}
		// 20 targets, backoff from 1s doubling to 5m: about 15 attempts
		// each in an hour, not thousands.
		t.Logf("%d requests while down", tries)
		if tries > 20*25 {
			t.Errorf("%d requests in an hour down: backoff not applied", tries)
		}
		fake.setMode("up")
		time.Sleep(6 * time.Minute) // longer than the largest backoff
		synctest.Wait()
		got := fake.accepted()
		final := map[string]string{}
		for _, p := range got {
			final[p.SHA] = p.State
		}
		for i, c := range commits {
			want := "success"
			if i%3 == 0 {
				want = "failure"
			}
			if final[c] != want {
				t.Errorf("commit %d: last status %q, want %q", i, final[c], want)
			}
		}
		if rig.store.pending() != 0 {
			t.Errorf("pending %d, want 0", rig.store.pending())
		}
		cancel()
		<-done
	})
}

// TestWorkerRetryAfter: a 429's Retry-After is honoured: no attempt
// before it.
func TestWorkerRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newGitHubFake()
		fake.setMode("429")
		rig := newRig(t, "", fake, t.TempDir(), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- rig.worker.Run(ctx) }()
		rig.store.create(newTask("web", "deploy", sha, state.StatusWaiting))
		time.Sleep(time.Second)
		synctest.Wait()
		fake.setMode("up")
		time.Sleep(100 * time.Second)
		synctest.Wait()
		if n := len(fake.accepted()); n != 0 {
			t.Errorf("delivered %d statuses before Retry-After (120s) passed", n)
		}
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if n := len(fake.accepted()); n != 1 {
			t.Errorf("delivered %d statuses after Retry-After, want 1", n)
		}
		cancel()
		<-done
	})
}

// TestWorkerRestart: statuses pending when the daemon stops (the store
// closed and opened again, as after kill -9 or a restart) are delivered by
// the next run; after a clean restart nothing is sent twice.
func TestWorkerRestart(t *testing.T) {
	fake := newGitHubFake()
	fake.setMode("down")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rig := newRig(t, srv.URL, fake, dir, nil)
	stop := rig.run(t)
	var ids []uint64
	for i := range 5 {
		ids = append(ids, lifecycle(rig.store, strings.Repeat(string(rune('a'+i)), 40), state.StatusSuccess))
	}
	// Notifications have no sender here: they fail at once, leaving the
	// five statuses.
	waitFor(t, "failed attempts", func() bool {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.requests >= 5 && rig.store.pending() == 5
	})
	stop()
	rig.store.Close()

	// The next daemon, an hour later: every backoff has passed.
	fake.setMode("up")
	later := func() time.Time { return time.Now().Add(time.Hour) }
	rig2 := newRig(t, srv.URL, fake, dir, later)
	if n := rig2.store.pending(); n != 5 {
		t.Fatalf("pending %d after reopening the state, want 5", n)
	}
	stop2 := rig2.run(t)
	waitFor(t, "delivery after restart", func() bool { return rig2.store.pending() == 0 })
	stop2()
	if n := len(fake.accepted()); n != 5 {
		t.Errorf("delivered %d, want 5", n)
	}
	for _, p := range fake.accepted() {
		if p.State != "success" {
			t.Errorf("delivered %+v: want only the final states (older ones were replaced)", p)
		}
	}
	// The same final statuses enqueued again (a recovery that re-reports)
	// are identical to the last delivered: acknowledged without a request.
	for _, id := range ids {
		tk, err := rig2.store.Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		old := tk
		old.Status = state.StatusRunning
		for _, e := range rig2.rep.OutboxFunc(old, tk) {
			if e.Kind == KindCommitStatus {
				rig2.store.EnqueueOutbox(context.Background(), e)
			}
		}
	}
	rig2.store.Close()
	rig3 := newRig(t, srv.URL, fake, dir, nil)
	stop3 := rig3.run(t)
	waitFor(t, "skips", func() bool { return rig3.store.pending() == 0 })
	stop3()
	if n := len(fake.accepted()); n != 5 {
		t.Errorf("after a clean restart: %d statuses delivered in all, want still 5 (no duplicate)", n)
	}
	if v := rig3.worker.Metrics().skipped.WithLabelValues("commit_status").Value(); v != 5 {
		t.Errorf("skipped %v, want 5", v)
	}
}

// countingSender counts the sends of each outbox entry, by Seq.
type countingSender struct {
	mu    sync.Mutex
	sends map[uint64]int
}

func (c *countingSender) Send(_ context.Context, e OutboxEntry) error {
	c.mu.Lock()
	c.sends[e.Seq]++
	c.mu.Unlock()
	return nil
}

// TestWorkerDispatchesEachEntryOnce: an entry read by a pass while its
// target's delivery was in flight is not dispatched again once that
// delivery ends (it was acknowledged meanwhile). Entries without a target
// have no last-delivered record to catch a second dispatch: it would be a
// second send.
func TestWorkerDispatchesEachEntryOnce(t *testing.T) {
	store := openStore(t, t.TempDir(), nil)
	sender := &countingSender{sends: map[uint64]int{}}
	w, err := NewWorker(WorkerOptions{
		Outbox:     store,
		Senders:    map[OutboxKind]Sender{KindCommitStatus: sender},
		Registerer: prom.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	const rounds, targets = 20, 12
	for r := range rounds {
		var batch []OutboxEntry
		for i := range targets {
			target := fmt.Sprintf("github:acme/site@%040d#ctx%d", r, i)
			if i%4 == 0 {
				target = "" // one order key for all of them
			}
			batch = append(batch, OutboxEntry{Kind: KindCommitStatus, Target: target, TaskID: uint64(r), Payload: []byte(fmt.Sprintf(`{"n":%d}`, r*targets+i))})
		}
		if err := store.EnqueueOutbox(ctx, batch...); err != nil {
			t.Fatal(err)
		}
		w.Wake()
	}
	waitFor(t, "every entry delivered", func() bool { return store.pending() == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.sends) != rounds*targets {
		t.Errorf("sent %d entries, want %d", len(sender.sends), rounds*targets)
	}
	for seq, n := range sender.sends {
		if n != 1 {
			t.Errorf("entry %d sent %d times", seq, n)
		}
	}
	if v := w.Metrics().skipped.WithLabelValues("commit_status").Value(); v != 0 {
		t.Errorf("skipped %v: entries dispatched again after their delivery", v)
	}
}

// BenchmarkTaskEndToStatus measures a task's terminal status change to
// the status request arriving at the forge (a real HTTP server on
// loopback): the worker is woken by the enqueue, no polling.
func BenchmarkTaskEndToStatus(b *testing.B) {
	rig, _ := startRig(b, "up")
	fake := rig.fake
	var lat, commit []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// A running task whose statuses went out already.
		nt := newTask("web", "deploy", fmt.Sprintf("%040x", i), state.StatusRunning)
		nt.Started = time.Now()
		tk := rig.store.create(nt)
		<-fake.notify
		b.StartTimer()
		start := time.Now()
		rig.store.set(tk.ID, func(t *state.Task) { t.Status, t.Ended = state.StatusSuccess, time.Now() })
		commit = append(commit, time.Since(start))
		<-fake.notify
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, "", lat)
	reportPercentiles(b, "commit-", commit)
}

// reportPercentiles reports the p50 and p99 of lat, names prefixed.
func reportPercentiles(b *testing.B, prefix string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	p := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), prefix+"p50-ms")
	b.ReportMetric(p(0.99), prefix+"p99-ms")
}

// TestWorkerDrain: Drain returns once the due statuses went out, and at
// its deadline while the forge is down.
func TestWorkerDrain(t *testing.T) {
	rig, _ := startRig(t, "up")
	fake := rig.fake
	for i := range 3 {
		lifecycle(rig.store, strings.Repeat(string(rune('a'+i)), 40), state.StatusStopped)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rig.worker.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	final := 0
	for _, p := range fake.accepted() {
		if p.State == "error" {
			final++
		}
	}
	if final != 3 {
		t.Errorf("%d final statuses out after Drain, want 3", final)
	}

	fake.setMode("down")
	rig.store.create(newTask("web", "deploy", strings.Repeat("f", 40), state.StatusWaiting))
	ctx2, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	// The entry fails once and backs off: nothing is due any more.
	if err := rig.worker.Drain(ctx2); err != nil {
		t.Errorf("Drain with the forge down: %v, want nil once the entry backs off", err)
	}
	if rig.store.pending() != 1 {
		t.Errorf("pending %d, want the entry kept for the next start", rig.store.pending())
	}
}

// TestWorkerStopsWithHangingForge: Run returns promptly when its context
// ends while a forge hangs, and the entry stays for the next start, its
// attempt not counted.
func TestWorkerStopsWithHangingForge(t *testing.T) {
	hung := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leave
		hung <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	rig := newRig(t, srv.URL, newGitHubFake(), t.TempDir(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rig.worker.Run(ctx) }()
	rig.store.create(newTask("web", "deploy", sha, state.StatusWaiting))
	<-hung
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %s to return", d)
	}
	w := rig.store.waiting()
	if len(w) != 1 || w[0].Attempts != 0 {
		t.Errorf("waiting %+v, want the entry kept with no attempt counted", w)
	}
}
