package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/trigger"
)

// benchStore opens the real BoltDB state the benchmarks record into.
func benchStore(b *testing.B) (Store, func()) {
	s := openStore(b, "")
	return s, func() {}
}

// BenchmarkWebhookAck sends signed GitHub pushes at 500 requests/s (open
// loop: a request leaves every 2 ms whether or not the previous one was
// answered) through a real HTTP server and reports the latency from
// sending to the answer: signature check, parse, plan, durable record of
// the delivery and its task, JSON answer. Run with -benchtime=5s or more
// for a stable p99.
func BenchmarkWebhookAck(b *testing.B) {
	benchmarkRate(b, 500, false)
}

// BenchmarkPushToQueued reports the time from sending a push to the
// engine having its task (Adopt), at 500 requests/s.
func BenchmarkPushToQueued(b *testing.B) {
	benchmarkRate(b, 500, true)
}

type timedEngine struct {
	mu      sync.Mutex
	adopted map[string]time.Time // delivery id -> when adopted
}

func (e *timedEngine) Adopt(ts ...trigger.Task) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range ts {
		e.adopted[t.Trigger.DeliveryID] = now
	}
	return nil
}

func (e *timedEngine) Stop(_ context.Context, id uint64) (trigger.Task, error) {
	return trigger.Task{ID: id}, nil
}

func benchmarkRate(b *testing.B, rate int, queued bool) {
	cfg := loadConfig(b, map[string]string{"web.yaml": webConfig, "settings.yaml": settingsConfig})
	store, closeStore := benchStore(b)
	defer closeStore()
	eng := &timedEngine{adopted: map[string]time.Time{}}
	recv, err := New(Options{Store: store, Engine: eng, Snapshots: &snapshots{cfg: cfg}, Secrets: resolver()})
	if err != nil {
		b.Fatal(err)
	}
	var (
		smu    sync.Mutex
		server []time.Duration
	)
	inner := recv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inner.ServeHTTP(w, r)
		d := time.Since(start)
		smu.Lock()
		server = append(server, d)
		smu.Unlock()
	}))
	defer ts.Close()
	srv := ts.URL
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	var p map[string]any
	if err := json.Unmarshal(fixture(b, "github/push_with-new-branch.payload.json"), &p); err != nil {
		b.Fatal(err)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		sent      = map[string]time.Time{}
		wg        sync.WaitGroup
		failures  int
	)
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		id := fmt.Sprintf("bench-%d-%d", b.N, i)
		p["after"] = fmt.Sprintf("%040x", i)
		p["head_commit"] = map[string]any{"id": p["after"]}
		body, _ := json.Marshal(p)
		hdr := github("push", id, "gh-s3cret", body)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv+"/hooks/github", bytes.NewReader(body))
			req.Header = hdr
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
				return
			}
			resp.Body.Close()
			d := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != http.StatusCreated {
				failures++
				return
			}
			sent[id] = start
			latencies = append(latencies, d)
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failures > 0 {
		b.Fatalf("%d requests failed", failures)
	}
	if queued {
		latencies = latencies[:0]
		eng.mu.Lock()
		for id, start := range sent {
			if at, ok := eng.adopted[id]; ok {
				latencies = append(latencies, at.Sub(start))
			}
		}
		eng.mu.Unlock()
	}
	if len(latencies) == 0 {
		return
	}
	pct := func(ds []time.Duration, q float64) float64 {
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(latencies, 0.50), "p50-ms")
	b.ReportMetric(pct(latencies, 0.99), "p99-ms")
	if !queued {
		// In the handler: what the daemon itself spends, without the
		// client's scheduling on a loaded machine.
		smu.Lock()
		b.ReportMetric(pct(server, 0.50), "server-p50-ms")
		b.ReportMetric(pct(server, 0.99), "server-p99-ms")
		smu.Unlock()
	}
	b.ReportMetric(float64(len(latencies)), "requests")
}
