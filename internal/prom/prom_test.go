package prom

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample registers one of each kind, with awkward label values, on a
// Registry of this package.
func sample(t *testing.T) *Registry {
	t.Helper()
	reg := NewRegistry()
	tasks := NewCounterVec(CounterOpts{Name: "semaphored_tasks_total", Help: "Tasks ended, by status."}, []string{"template", "status"})
	tasks.WithLabelValues("web/deploy", "success").Add(3)
	tasks.WithLabelValues("web/deploy", "failed").Inc()
	tasks.WithLabelValues("a \"quoted\" \\ back\nslash", "success").Inc()
	running := NewGauge(GaugeOpts{Name: "semaphored_tasks_running", Help: "Tasks running now.\nSecond line with a \\."})
	running.Set(2)
	running.Dec()
	running.Add(0.5)
	dur := NewHistogramVec(HistogramOpts{Name: "semaphored_task_duration_seconds", Help: "Task durations.", Buckets: []float64{0.0005, 1, 60, 3600}}, []string{"template"})
	for _, v := range []float64{0.0001, 0.0005, 0.7, 59, 7200} {
		dur.WithLabelValues("web/deploy").Observe(v)
	}
	dur.WithLabelValues("db/backup")
	wait := NewHistogram(HistogramOpts{Name: "semaphored_queue_wait_seconds", Help: "Queue wait.", Buckets: []float64{0.01, 0.1}})
	wait.Observe(0.05)
	rev := NewGaugeVec(GaugeOpts{Name: "semaphored_config_revision_info", Help: "Active revision."}, []string{"revision"})
	rev.WithLabelValues("old").Set(1)
	rev.Reset()
	rev.WithLabelValues("abc123").Set(1)
	errs := NewCounter(CounterOpts{Name: "semaphored_errors_total", Help: "Errors."})
	reg.MustRegister(tasks, running, dur, wait, rev, errs)
	return reg
}

func TestWriteTextGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := sample(t).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.txt")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestSameAsClientGolang builds the same metrics with client_golang and
// checks that Prometheus's own text parser reads both answers as the same
// families: names, help, types, labels, values, buckets.
func TestSameAsClientGolang(t *testing.T) {
	preg := prometheus.NewRegistry()
	tasks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "semaphored_tasks_total", Help: "Tasks ended, by status."}, []string{"template", "status"})
	tasks.WithLabelValues("web/deploy", "success").Add(3)
	tasks.WithLabelValues("web/deploy", "failed").Inc()
	tasks.WithLabelValues("a \"quoted\" \\ back\nslash", "success").Inc()
	running := prometheus.NewGauge(prometheus.GaugeOpts{Name: "semaphored_tasks_running", Help: "Tasks running now.\nSecond line with a \\."})
	running.Set(1.5)
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "semaphored_task_duration_seconds", Help: "Task durations.", Buckets: []float64{0.0005, 1, 60, 3600}}, []string{"template"})
	for _, v := range []float64{0.0001, 0.0005, 0.7, 59, 7200} {
		dur.WithLabelValues("web/deploy").Observe(v)
	}
	dur.WithLabelValues("db/backup")
	wait := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "semaphored_queue_wait_seconds", Help: "Queue wait.", Buckets: []float64{0.01, 0.1}})
	wait.Observe(0.05)
	rev := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "semaphored_config_revision_info", Help: "Active revision."}, []string{"revision"})
	rev.WithLabelValues("abc123").Set(1)
	errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "semaphored_errors_total", Help: "Errors."})
	preg.MustRegister(tasks, running, dur, wait, rev, errs)
	mfs, err := preg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var theirs bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&theirs, mf); err != nil {
			t.Fatal(err)
		}
	}
	var ours bytes.Buffer
	if err := sample(t).WriteText(&ours); err != nil {
		t.Fatal(err)
	}
	if a, b := normalize(t, ours.String()), normalize(t, theirs.String()); a != b {
		t.Errorf("ours, as Prometheus reads it:\n%s\nclient_golang's:\n%s", a, b)
	}
}

// normalize parses text as Prometheus does and writes it back.
func normalize(t *testing.T, text string) string {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses:\n%s\n%v", text, err)
	}
	var buf bytes.Buffer
	for _, n := range slices.Sorted(maps.Keys(mfs)) {
		expfmt.MetricFamilyToText(&buf, mfs[n])
	}
	return buf.String()
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	reg := NewRegistry()
	c := NewCounter(CounterOpts{Name: "x_total", Help: "x"})
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	var are AlreadyRegisteredError
	if err := reg.Register(NewCounterVec(CounterOpts{Name: "x_total", Help: "other"}, []string{"a"})); !errors.As(err, &are) || are.Name != "x_total" {
		t.Errorf("second x_total: %v, want AlreadyRegisteredError", err)
	}
	if err := reg.Register(funcCollector{names: []string{"bad-name"}}); err == nil || errors.As(err, &are) {
		t.Errorf("bad name: %v", err)
	}
}

func TestConstructorsPanicOnProgrammingErrors(t *testing.T) {
	for name, f := range map[string]func(){
		"bad name":          func() { NewCounter(CounterOpts{Name: "1x"}) },
		"bad label":         func() { NewCounterVec(CounterOpts{Name: "x"}, []string{"a-b"}) },
		"reserved label":    func() { NewGaugeVec(GaugeOpts{Name: "x"}, []string{"__a"}) },
		"repeated label":    func() { NewGaugeVec(GaugeOpts{Name: "x"}, []string{"a", "a"}) },
		"le on a histogram": func() { NewHistogramVec(HistogramOpts{Name: "x", Buckets: []float64{1}}, []string{"le"}) },
		"unsorted buckets":  func() { NewHistogram(HistogramOpts{Name: "x", Buckets: []float64{2, 1}}) },
		"+Inf bucket":       func() { NewHistogram(HistogramOpts{Name: "x", Buckets: []float64{1, math.Inf(1)}}) },
		"wrong label count": func() { NewCounterVec(CounterOpts{Name: "x"}, []string{"a", "b"}).WithLabelValues("1") },
		"negative add":      func() { NewCounter(CounterOpts{Name: "x"}).Add(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConcurrentUpdates(t *testing.T) {
	reg := NewRegistry()
	c := NewCounterVec(CounterOpts{Name: "c_total", Help: "c"}, []string{"w"})
	h := NewHistogram(HistogramOpts{Name: "h_seconds", Help: "h", Buckets: []float64{0.5}})
	g := NewGauge(GaugeOpts{Name: "g", Help: "g"})
	reg.MustRegister(c, h, g)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.WithLabelValues(string(rune('a' + w%2))).Add(0.5)
				h.Observe(float64(i % 2))
				g.Inc()
				if i%100 == 0 {
					reg.WriteText(&bytes.Buffer{})
				}
			}
		})
	}
	wg.Wait()
	if v := c.WithLabelValues("a").Value() + c.WithLabelValues("b").Value(); v != 4000 {
		t.Errorf("counter sum %v, want 4000", v)
	}
	if g.Value() != 8000 {
		t.Errorf("gauge %v", g.Value())
	}
	s := h.series(nil)
	if s.Cumulated[0] != 4000 || s.Count != 8000 || s.Sum != 4000 {
		t.Errorf("histogram series %+v", s)
	}
}

func BenchmarkWriteText1000Templates(b *testing.B) {
	reg := NewRegistry()
	tasks := NewCounterVec(CounterOpts{Name: "semaphored_tasks_total", Help: "t"}, []string{"project", "template", "status"})
	dur := NewHistogramVec(HistogramOpts{Name: "semaphored_task_duration_seconds", Help: "d", Buckets: []float64{1, 5, 15, 60, 180, 600, 1200, 1800, 3600}}, []string{"project", "template"})
	reg.MustRegister(tasks, dur)
	for i := range 1000 {
		tpl := "template-" + string(rune('a'+i%26)) + strings.Repeat("x", i%7) + "-" + strconv.Itoa(i)
		for _, st := range []string{"success", "failed", "stopped", "error"} {
			tasks.WithLabelValues("proj", tpl, st).Inc()
		}
		dur.WithLabelValues("proj", tpl).Observe(float64(i))
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := reg.WriteText(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/scrape")
}
