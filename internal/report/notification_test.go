package report

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/notify"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// chatFake is a Slack incoming webhook and a generic webhook receiver.
type chatFake struct {
	mu    sync.Mutex
	down  bool
	slack []string // titles
	hooks []map[string]any
}

func (f *chatFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/services/T0/B0/x":
		var v struct{ Text string }
		json.Unmarshal(b, &v)
		f.slack = append(f.slack, v.Text)
		io.WriteString(w, "ok")
	case "/hook":
		if r.Header.Get(notify.SignatureHeader) != notify.Sign([]byte("k"), b) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var v map[string]any
		json.Unmarshal(b, &v)
		f.hooks = append(f.hooks, v)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestNotifications(t *testing.T) {
	fake := &chatFake{down: true}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	rep := NewReporter(nil)
	rep.SetConfig(loadConfig(t, "http://forge.invalid"))
	store := openStore(t, t.TempDir(), rep.OutboxFunc)
	env := map[string]string{"TEST_SLACK_URL": srv.URL + "/services/T0/B0/x", "TEST_HOOK_URL": srv.URL + "/hook", "TEST_HOOK_SECRET": "k"}
	signer, _ := link.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	w, err := NewWorker(WorkerOptions{
		Outbox: store,
		Senders: map[OutboxKind]Sender{KindNotification: &NotificationSender{
			Tasks:   store,
			Secrets: &config.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
			Links:   &Links{Signer: signer, PublicURL: "https://ci.example.com"},
		}},
		Registerer: prom.NewRegistry(),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.OnEnqueue(w.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Task 1 fails, task 2 recovers, task 3 succeeds again; all of
	// template deploy. Statuses have no forge here (no commit).
	for _, end := range []state.TaskStatus{state.StatusFailure, state.StatusSuccess, state.StatusSuccess} {
		lifecycle(store, "", end)
	}
	// The chat is down: nothing is reported as sent, everything waits,
	// and a channel's later messages wait behind its first.
	waitFor(t, "attempts while down", func() bool {
		n := 0
		for _, e := range store.waiting() {
			if e.TaskID == 1 && e.Attempts >= 2 {
				n++
			}
		}
		return n == 2
	})
	for _, e := range store.waiting() {
		if e.TaskID != 1 && e.Attempts != 0 {
			t.Errorf("entry of task %d (%s) attempted before the channel's first message went through", e.TaskID, e.Target)
		}
	}
	if n := store.pending(); n != 6 {
		t.Fatalf("pending %d while the chat is down, want 6 (3 slack: a failure and two maybe-recoveries; 3 webhook)", n)
	}
	fake.mu.Lock()
	fake.down = false
	fake.mu.Unlock()
	waitFor(t, "delivery", func() bool { return store.pending() == 0 })
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if got := strings.Join(fake.slack, " | "); got != "❌ web/deploy #1 failed | ✅ web/deploy #2 recovered" {
		t.Errorf("slack got %q", got)
	}
	if len(fake.hooks) != 3 {
		t.Fatalf("webhook got %d, want 3 (on: end)", len(fake.hooks))
	}
	for _, h := range fake.hooks {
		if u, _ := h["url"].(string); !strings.HasPrefix(u, "https://ci.example.com/tasks/") {
			t.Errorf("webhook url %q, want a signed task link", u)
		}
	}
	if len(store.failedEntries()) != 0 {
		t.Errorf("failed entries: %v", store.failedEntries())
	}
}
