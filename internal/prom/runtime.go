package prom

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// funcCollector is a collector written as two functions.
type funcCollector struct {
	names   []string
	collect func([]Family) []Family
}

func (c funcCollector) Describe() []string           { return c.names }
func (c funcCollector) Collect(fs []Family) []Family { return c.collect(fs) }

func gauge(name, help string, v float64) Family {
	return Family{Name: name, Help: help, Type: TypeGauge, Series: []Series{{Value: v}}}
}

func counter(name, help string, v float64) Family {
	return Family{Name: name, Help: help, Type: TypeCounter, Series: []Series{{Value: v}}}
}

// NewGoCollector returns the Go runtime's metrics under client_golang's
// names: go_goroutines, go_threads, go_info, go_gc_duration_seconds, the
// go_memstats_* family, go_gc_gogc_percent, go_gc_gomemlimit_bytes and
// go_sched_gomaxprocs_threads. Each scrape reads runtime.MemStats once.
func NewGoCollector() Collector {
	names := []string{
		"go_goroutines", "go_threads", "go_info", "go_gc_duration_seconds",
		"go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_sched_gomaxprocs_threads",
	}
	for _, m := range memStats {
		names = append(names, m.name)
	}
	samples := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	return funcCollector{names: names, collect: func(fs []Family) []Family {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		threads, _ := runtime.ThreadCreateProfile(nil)
		var gc debug.GCStats
		gc.PauseQuantiles = make([]time.Duration, 5)
		debug.ReadGCStats(&gc)
		rtmetrics.Read(samples)
		quantiles := make([]Quantile, len(gc.PauseQuantiles))
		for i, q := range gc.PauseQuantiles {
			quantiles[i] = Quantile{Q: float64(i) / float64(len(gc.PauseQuantiles)-1), Value: q.Seconds()}
		}
		fs = append(fs,
			gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
			gauge("go_threads", "Number of OS threads created.", float64(threads)),
			Family{Name: "go_info", Help: "Information about the Go environment.", Type: TypeGauge,
				LabelNames: []string{"version"}, Series: []Series{{LabelValues: []string{runtime.Version()}, Value: 1}}},
			Family{Name: "go_gc_duration_seconds", Help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", Type: TypeSummary,
				Series: []Series{{Quantiles: quantiles, Count: uint64(gc.NumGC), Sum: gc.PauseTotal.Seconds()}}},
			gauge("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100.", sampleValue(samples[0])),
			gauge("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64.", sampleValue(samples[1])),
			gauge("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", float64(runtime.GOMAXPROCS(0))),
		)
		for _, m := range memStats {
			f := gauge(m.name, m.help, m.value(&ms))
			if m.counter {
				f.Type = TypeCounter
			}
			fs = append(fs, f)
		}
		return fs
	}}
}

func sampleValue(s rtmetrics.Sample) float64 {
	switch s.Value.Kind() {
	case rtmetrics.KindUint64:
		return float64(s.Value.Uint64())
	case rtmetrics.KindFloat64:
		return s.Value.Float64()
	}
	return 0
}

var memStats = []struct {
	name, help string
	counter    bool
	value      func(*runtime.MemStats) float64
}{
	{"go_memstats_alloc_bytes", "Number of heap bytes allocated and currently in use.", false, func(m *runtime.MemStats) float64 { return float64(m.Alloc) }},
	{"go_memstats_alloc_bytes_total", "Total number of heap bytes allocated, even if freed.", true, func(m *runtime.MemStats) float64 { return float64(m.TotalAlloc) }},
	{"go_memstats_sys_bytes", "Number of bytes obtained from system.", false, func(m *runtime.MemStats) float64 { return float64(m.Sys) }},
	{"go_memstats_mallocs_total", "Total number of heap objects allocated.", true, func(m *runtime.MemStats) float64 { return float64(m.Mallocs) }},
	{"go_memstats_frees_total", "Total number of heap objects frees.", true, func(m *runtime.MemStats) float64 { return float64(m.Frees) }},
	{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapAlloc) }},
	{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapSys) }},
	{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapIdle) }},
	{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapInuse) }},
	{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapReleased) }},
	{"go_memstats_heap_objects", "Number of currently allocated objects.", false, func(m *runtime.MemStats) float64 { return float64(m.HeapObjects) }},
	{"go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments.", false, func(m *runtime.MemStats) float64 { return float64(m.StackInuse) }},
	{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.", false, func(m *runtime.MemStats) float64 { return float64(m.StackSys) }},
	{"go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures.", false, func(m *runtime.MemStats) float64 { return float64(m.MSpanInuse) }},
	{"go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system.", false, func(m *runtime.MemStats) float64 { return float64(m.MSpanSys) }},
	{"go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures.", false, func(m *runtime.MemStats) float64 { return float64(m.MCacheInuse) }},
	{"go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system.", false, func(m *runtime.MemStats) float64 { return float64(m.MCacheSys) }},
	{"go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table.", false, func(m *runtime.MemStats) float64 { return float64(m.BuckHashSys) }},
	{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata.", false, func(m *runtime.MemStats) float64 { return float64(m.GCSys) }},
	{"go_memstats_other_sys_bytes", "Number of bytes used for other system allocations.", false, func(m *runtime.MemStats) float64 { return float64(m.OtherSys) }},
	{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", false, func(m *runtime.MemStats) float64 { return float64(m.NextGC) }},
	{"go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", false, func(m *runtime.MemStats) float64 { return float64(m.LastGC) / 1e9 }},
}

// NewProcessCollector returns the process metrics under client_golang's
// names, read from /proc/self (Linux): process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_virtual_memory_max_bytes, process_start_time_seconds,
// process_open_fds and process_max_fds. A value that cannot be read is
// left out of that scrape.
func NewProcessCollector() Collector {
	names := []string{
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
		"process_virtual_memory_max_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds",
	}
	bootTime := sync.OnceValue(readBootTime) // at the first scrape, not at start-up
	return funcCollector{names: names, collect: func(fs []Family) []Family {
		if st, ok := readStat(); ok {
			fs = append(fs,
				counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", st.cpu),
				gauge("process_resident_memory_bytes", "Resident memory size in bytes.", st.rss),
				gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", st.vsize))
			if bt := bootTime(); bt > 0 {
				fs = append(fs, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", bt+st.start))
			}
		}
		if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
			fs = append(fs, gauge("process_open_fds", "Number of open file descriptors.", float64(len(ents))))
		}
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
			fs = append(fs, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(rl.Cur)))
		}
		if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
			fs = append(fs, gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", rlimitValue(rl.Cur)))
		}
		return fs
	}}
}

// rlimitValue is -1 for an unlimited resource, as client_golang reports.
func rlimitValue(v uint64) float64 {
	if v == ^uint64(0) { // RLIM_INFINITY
		return -1
	}
	return float64(v)
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

type procStat struct{ cpu, rss, vsize, start float64 }

// readStat reads /proc/self/stat: fields 14 and 15 (utime, stime in ticks),
// 22 (starttime in ticks since boot), 23 (vsize in bytes), 24 (rss in pages).
func readStat() (procStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) is parenthesised and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(field int) float64 {
		v, _ := strconv.ParseFloat(string(f[field-3]), 64)
		return v
	}
	return procStat{
		cpu:   (num(14) + num(15)) / clockTicks,
		start: num(22) / clockTicks,
		vsize: num(23),
		rss:   num(24) * float64(os.Getpagesize()),
	}, true
}

// readBootTime reads btime from /proc/stat; 0 when it cannot.
func readBootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			t, _ := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			return t
		}
	}
	return 0
}
