package report_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	osexec "os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/prom/promtest"
	"github.com/semaphored/semaphored/internal/report"
	"github.com/semaphored/semaphored/internal/server"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
	"github.com/semaphored/semaphored/internal/sync"
	"github.com/semaphored/semaphored/internal/web"
)

// recorder keeps the collectors registered through it, so a test can give
// the engine's per-template vectors the label values of many templates.
type recorder struct {
	prom.Registerer
	cs []prom.Collector
}

func (r *recorder) Register(c prom.Collector) error {
	r.cs = append(r.cs, c)
	return r.Registerer.Register(c)
}

type staticConfig struct{ c *config.Config }

func (s staticConfig) Snapshot() config.Snapshot { return config.Snapshot{Config: s.c} }

// daemonRegistry builds the registry the way serve.go does, with every
// subsystem that registers metrics: Go and process collectors, build info,
// the engine, the syncer, the API, the outbox worker and the task page. The
// engine's per-template series are filled for templates templates (as
// after each ran once).
func daemonRegistry(t testing.TB, templates int) (*prom.Registry, *state.Store) {
	t.Helper()
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	bi := prom.NewGaugeVec(prom.GaugeOpts{Name: "semaphored_build_info", Help: "Build information, as labels on a constant 1."},
		[]string{"version", "commit", "goversion"})
	bi.WithLabelValues("test", "none", "go").Set(1)
	reg.MustRegister(bi)

	store := statetest.Open(t, "", state.Options{})
	cfg := &config.Config{Projects: map[string]*config.Project{}}
	rec := &recorder{Registerer: reg}
	engine, err := exec.New(exec.Options{Store: store, Config: staticConfig{cfg}, WorkDir: t.TempDir(), Registerer: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sync.New(sync.Options{Store: store, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(api.Options{Engine: engine, Store: store, Config: staticConfig{cfg}, AdminToken: "x", Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	ob := &emptyOutbox{}
	if _, err := report.NewWorker(report.WorkerOptions{Outbox: ob, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	signer, _ := link.New(bytes.Repeat([]byte("k"), 32), nil)
	if _, err := web.New(web.Options{Tasks: store, Links: signer, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	fillTemplates(t, rec.cs, templates)
	return reg, store
}

// fillTemplates gives every vector with a template label the values of n
// templates, through the engine's own collectors.
func fillTemplates(t testing.TB, cs []prom.Collector, n int) {
	for _, c := range cs {
		v, ok := c.(interface{ Labels() []string })
		if !ok {
			continue
		}
		names := v.Labels()
		if !slices.Contains(names, "template") {
			continue
		}
		for i := range n {
			vals := make([]string, len(names))
			for j, l := range names {
				switch l {
				case "project":
					vals[j] = fmt.Sprintf("project%d", i%20)
				case "template":
					vals[j] = fmt.Sprintf("template%d", i)
				case "status":
					vals[j] = "success"
				default:
					vals[j] = "x"
				}
			}
			switch v := c.(type) {
			case *prom.CounterVec:
				v.WithLabelValues(vals...).Inc()
			case *prom.HistogramVec:
				v.WithLabelValues(vals...).Observe(1.5)
			case *prom.GaugeVec:
				v.WithLabelValues(vals...).Set(1)
			}
		}
	}
}

// emptyOutbox is an outbox with nothing in it (the pending gauges scan it).
type emptyOutbox struct{}

func (emptyOutbox) DueOutbox(context.Context, time.Time, int) ([]report.OutboxEntry, error) {
	return nil, nil
}
func (emptyOutbox) AckOutbox(context.Context, uint64) error { return nil }
func (emptyOutbox) FailOutbox(context.Context, uint64, string, time.Time, bool) (report.OutboxEntry, error) {
	return report.OutboxEntry{}, nil
}
func (emptyOutbox) LastDelivered(context.Context, report.OutboxKind, string) ([]byte, bool, error) {
	return nil, false, nil
}

func scrape(t testing.TB, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetricsLint scrapes /metrics of a registry with every subsystem and
// runs promlint on it; every outbox and page series exists from the first
// scrape.
func TestMetricsLint(t *testing.T) {
	reg, _ := daemonRegistry(t, 3)
	srv := httptest.NewServer(server.MetricsHandler(reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	body := scrape(t, srv.URL)
	promtest.Lint(t, string(body))
	if promtool, err := osexec.LookPath("promtool"); err == nil {
		cmd := osexec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
	for _, want := range []string{
		`semaphored_outbox_pending{destination="github",kind="commit_status"} 0`,
		`semaphored_outbox_pending{destination="slack",kind="notification"} 0`,
		`semaphored_outbox_failed_total{destination="gitlab",kind="commit_status"} 0`,
		`semaphored_outbox_delivered_total{destination="email",kind="notification"} 0`,
		`semaphored_outbox_delivery_seconds_count{kind="commit_status"} 0`,
		`semaphored_outbox_oldest_pending_age_seconds{kind="commit_status"} 0`,
		`semaphored_task_page_requests_total{auth="link",code="200",route="page"} 0`,
		`semaphored_build_info{`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("first scrape lacks %s", want)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchScrape scrapes /metrics of a registry with 1,000 templates' series
// the way Prometheus does (Accept-Encoding as given, body read, not
// decoded), and reports the CPU time per scrape beside the wall time: on
// a shared machine the wall time measures the other tenants too.
func benchScrape(b *testing.B, encoding string) {
	reg, _ := daemonRegistry(b, 1000)
	srv := httptest.NewServer(server.MetricsHandler(reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return int(n)
	}
	size := get()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		get()
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(size)/1024, "KiB/scrape")
}

// BenchmarkScrape1000Templates: a gzip scrape (what Prometheus asks for).
func BenchmarkScrape1000Templates(b *testing.B) { benchScrape(b, "gzip") }

// BenchmarkScrape1000TemplatesIdentity: the same without compression.
func BenchmarkScrape1000TemplatesIdentity(b *testing.B) { benchScrape(b, "") }

// BenchmarkGather1000Templates is the registry's Gather alone.
func BenchmarkGather1000Templates(b *testing.B) {
	reg, _ := daemonRegistry(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		reg.Gather()
	}
}

// TestLinkOpensNoAPI: a task page's signed link is no credential for the
// API, and the page takes the API's tokens.
func TestLinkOpensNoAPI(t *testing.T) {
	store := statetest.Open(t, "", state.Options{})
	var nt state.Task
	nt.Project, nt.Template, nt.Status = "web", "deploy", state.StatusSuccess
	tk, err := store.CreateTask(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Projects: map[string]*config.Project{"web": {Name: "web"}}}
	engine, err := exec.New(exec.Options{Store: store, Config: staticConfig{cfg}, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Engine: engine, Store: store, Config: staticConfig{cfg}, AdminToken: "admin-token"})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := link.New(bytes.Repeat([]byte("k"), 32), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	q := signer.Query(tk.ID, time.Hour)
	for _, path := range []string{
		fmt.Sprintf("/api/v1/tasks/%d", tk.ID),
		fmt.Sprintf("/api/v1/tasks/%d/log", tk.ID),
		"/api/v1/tasks",
	} {
		resp, err := http.Get(srv.URL + path + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a signed link: got %d, want 401", path, resp.StatusCode)
		}
	}

	// The page takes the API's tokens through the API's own check.
	pages, err := web.New(web.Options{Tasks: store, Auth: h, Links: signer})
	if err != nil {
		t.Fatal(err)
	}
	psrv := httptest.NewServer(pages)
	defer psrv.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"Bearer admin-token", 200}, {"Bearer wrong", 401}, {"", 401}} {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/tasks/%d", psrv.URL, tk.ID), nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("task page with %q: got %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}
}
