package prom_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/prom/promtest"
)

// TestPromlint runs Prometheus's parser and promlint over the golden
// sample (every kind, awkward label values) and over the Go and process
// collectors' output. An external test, so that promtest can serve it.
func TestPromlint(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	promtest.Lint(t, string(sample))

	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	text := "\n" + promtest.Text(t, reg)
	for _, name := range []string{
		"go_goroutines ", "go_threads ", `go_info{version="go`, `go_gc_duration_seconds{quantile="0.5"} `,
		"go_gc_duration_seconds_count ", "go_memstats_heap_alloc_bytes ", "go_memstats_alloc_bytes_total ",
		"go_sched_gomaxprocs_threads ", "go_gc_gogc_percent 100\n",
		"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_virtual_memory_bytes ",
		"process_start_time_seconds ", "process_open_fds ", "process_max_fds ", "process_virtual_memory_max_bytes ",
	} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("no %q in\n%s", name, text)
		}
	}
}
