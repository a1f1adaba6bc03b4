// Command benchtable turns the output of scripts/bench (go test -bench
// lines, with the "pkg:" lines go test prints before each package's
// benchmarks) into the table of every performance figure the issues name:
// figure, target, measured, the same work done directly where that
// applies, and whether the target is met. A figure whose benchmark gave no
// line says why: not yet in this tree (go test -list does not find it) or
// no result (it exists but failed or was not run).
//
// Usage: go run ./scripts/benchtable [-no-list] < bench-output
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// module is the import path prefix of the packages the figures name.
const module = "github.com/semaphored/semaphored/"

// metric names one number of one benchmark: a custom metric reported with
// b.ReportMetric (its unit, e.g. "p99-ms") or a standard one ("ns/op"),
// multiplied by scale for display.
type metric struct {
	pkg   string // relative to the module, e.g. "internal/exec"
	bench string // full name without the -GOMAXPROCS suffix
	unit  string
	scale float64
}

// figure is one row of the table.
type figure struct {
	name   string
	target string
	// op and limit say when the target is met: measured op limit
	// ("<" or ">"); op "" means no target to check (a reference figure).
	op    string
	limit float64
	unit  string // display unit of measured and direct
	// measured gives the figure; direct, when set, the same work done
	// without semaphored.
	measured metric
	direct   *metric
	// derivedDirect computes the direct figure from the results when it is
	// not a metric of its own (e.g. p50 minus the reported overhead).
	derivedDirect func(r results) (float64, bool)
	// directIs says what the direct figure is, printed under the table.
	directIs string
	// check, when set, is the metric the target is checked on instead of
	// measured (e.g. an overhead in per cent), shown beside it with
	// checkFormat.
	check       *metric
	checkFormat string
	// extra, when set, is shown beside measured with extraFormat.
	extra       *metric
	extraFormat string
}

func ms(pkg, bench, unit string) metric    { return metric{pkg, bench, unit, 1} }
func nsToMS(pkg, bench string) metric      { return metric{pkg, bench, "ns/op", 1e-6} }
func same(pkg, bench, unit string) *metric { m := ms(pkg, bench, unit); return &m }

// figures is every figure the issues name (3, 4, 5, 6, 9, 15, 16),
// in the order of a task's life: config, triggers, runs, logs, reports,
// the daemon itself.
var figures = []figure{
	{name: "sync: load + validate + diff, 100 projects × 100 templates", target: "< 1 s", op: "<", limit: 1000, unit: "ms",
		measured: nsToMS("internal/sync", "BenchmarkLoadValidateDiff100x100")},
	{name: "sync: apply it (10,601 objects, one transaction)", target: "< 1 s", op: "<", limit: 1000, unit: "ms",
		measured: nsToMS("internal/sync", "BenchmarkApply100x100")},
	{name: "sync: no-op resync (head unchanged)", target: "< 5 ms", op: "<", limit: 5, unit: "ms",
		measured: nsToMS("internal/sync", "BenchmarkNoopResync")},
	{name: "webhook acknowledged, p99 at 500 requests/s (signature, durable record)", target: "< 10 ms", op: "<", limit: 10, unit: "ms",
		measured: ms("internal/webhook", "BenchmarkWebhookAck", "p99-ms"),
		extra:    same("internal/webhook", "BenchmarkWebhookAck", "server-p99-ms"), extraFormat: " (handler alone: %.2f ms)"},
	{name: "push → task queued, p99 at 500 requests/s", target: "< 20 ms", op: "<", limit: 20, unit: "ms",
		measured: ms("internal/webhook", "BenchmarkPushToQueued", "p99-ms")},
	{name: "trivial bash task, API call → success, p50", target: "< 50 ms (Semaphore UI: 5.0 s)", op: "<", limit: 50, unit: "ms",
		measured: ms("internal/exec", "BenchmarkTrivialTask", "p50-ms"),
		derivedDirect: func(r results) (float64, bool) {
			p50, ok1 := r.get(ms("internal/exec", "BenchmarkTrivialTask", "p50-ms"))
			over, ok2 := r.get(ms("internal/exec", "BenchmarkTrivialTask", "overhead-p50-ms"))
			return p50 - over, ok1 && ok2
		}, directIs: "`bash -c 'echo hello'` started with os/exec, p50 of 50 runs"},
	{name: "trivial bash task, API call → success, p99", target: "< 150 ms", op: "<", limit: 150, unit: "ms",
		measured: ms("internal/exec", "BenchmarkTrivialTask", "p99-ms")},
	{name: "throughput: 500 trivial tasks, global limit 8", target: "> 100 tasks/s (Semaphore UI: 0.2/s)", op: ">", limit: 100, unit: "tasks/s",
		measured: ms("internal/exec", "BenchmarkThroughput500", "tasks/s")},
	{name: "log ingestion into the state (1,000-line batches)", target: "> 200,000 lines/s (Semaphore UI: ~4,000)", op: ">", limit: 200000, unit: "lines/s",
		measured: ms("internal/state", "BenchmarkAppendLog/batch=1000", "lines/s")},
	{name: "log ingestion through a task's log writer", target: "> 200,000 lines/s", op: ">", limit: 200000, unit: "lines/s",
		measured: ms("internal/exec", "BenchmarkLogWriter", "lines/s")},
	{name: "200,000-line bash job as a task (every line stored)", target: "within 10 % of direct (Semaphore UI: 45 s for a < 1 s job)", op: "<", limit: 10, unit: "ms",
		measured: ms("internal/exec", "BenchmarkJob200kLines", "task-ms"), direct: same("internal/exec", "BenchmarkJob200kLines", "direct-ms"),
		check: same("internal/exec", "BenchmarkJob200kLines", "overhead-%"), checkFormat: " (+%.1f %%)",
		directIs: "`bash job.sh > /dev/null`, the same script"},
	{name: "200,000 lines as fast as the pipe takes, through the runner", target: "(reference)", unit: "ms",
		measured: nsToMS("internal/exec/runner", "BenchmarkRun200kLines"), direct: ptr(nsToMS("internal/exec/runner", "BenchmarkDirect200kLines")),
		directIs: "the same script with its output going to /dev/null"},
	{name: "daemon RSS while a job prints 1 GB", target: "< 60 MB", op: "<", limit: 60, unit: "MB",
		measured: ms("cmd/semaphored", "BenchmarkDaemonGigabyteJob", "MB-peak-RSS")},
	{name: "task end → commit status on the wire, p99", target: "< 50 ms", op: "<", limit: 50, unit: "ms",
		measured: ms("internal/report", "BenchmarkTaskEndToStatus", "p99-ms")},
	{name: "scrape of /metrics with 1,000 templates", target: "< 20 ms", op: "<", limit: 20, unit: "ms",
		measured: nsToMS("internal/report", "BenchmarkScrape1000Templates")},
	{name: "task page of a 200,000-line log (server part)", target: "first paint < 1 s", op: "<", limit: 1000, unit: "ms",
		measured: nsToMS("internal/web", "BenchmarkPage200kLines")},
	{name: "task list API, 200 tasks a request", target: "(Semaphore UI: 221/s)", op: ">", limit: 221, unit: "requests/s",
		measured: ms("internal/api", "BenchmarkListTasks", "requests/s")},
	{name: "50,000 API requests: daemon RSS growth", target: "< 5 MB (Semaphore UI: +2.3–6.1 KB a request)", op: "<", limit: 5, unit: "MB",
		measured: ms("cmd/semaphored", "BenchmarkDaemon50kRequests", "MB-RSS-growth")},
	{name: "cached checkout of a 50-file repository", target: "(reference)", unit: "ms",
		measured: nsToMS("internal/gitcache", "BenchmarkCheckoutCached"), direct: ptr(nsToMS("internal/gitcache", "BenchmarkWriteFilesBaseline")),
		directIs: "the same 50 files written with os.WriteFile"},
	{name: "start-up: exec → first /healthz 200", target: "< 15 ms (Semaphore UI: 7–12 ms)", op: "<", limit: 15, unit: "ms",
		measured: ms("cmd/semaphored", "BenchmarkServeStartup", "ms-healthz")},
	{name: "start-up: exec → first /readyz 200 (quickstart synced)", target: "< 50 ms", op: "<", limit: 50, unit: "ms",
		measured: ms("cmd/semaphored", "BenchmarkServeStartup", "ms-readyz")},
	{name: "idle RSS", target: "< 15 MB (Semaphore UI: 17.3–17.5 MB)", op: "<", limit: 15, unit: "MB",
		measured: ms("cmd/semaphored", "BenchmarkServeStartup", "MB-idle-RSS")},
	{name: "stripped static binary", target: "< 20 MB (Semaphore UI: 17.2 MB)", op: "<", limit: 20, unit: "MB",
		measured: ms("cmd/semaphored", "BenchmarkServeStartup", "MB-binary")},
}

func ptr(m metric) *metric { return &m }

// results holds every value read, keyed by package, benchmark and unit;
// repeated runs (-count) keep every value, and the median is used.
type results map[string][]float64

func key(pkg, bench, unit string) string { return pkg + " " + bench + " " + unit }

// get returns the median of the metric's values, scaled.
func (r results) get(m metric) (float64, bool) {
	vs := r[key(m.pkg, m.bench, m.unit)]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2] * m.scale, true
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads go test -bench output: "pkg: PATH" lines set the package of
// the benchmark lines that follow ("BenchmarkX-2  N  V unit  V unit ...").
func parse(r io.Reader) (results, error) {
	res := results{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), module)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // "BenchmarkX ... FAIL" and the like
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := key(pkg, name, f[i+1])
			res[k] = append(res[k], v)
		}
	}
	return res, sc.Err()
}

// lister says whether a benchmark exists in this tree.
type lister func(pkg, bench string) bool

// goTestList asks go test -list, once per package.
func goTestList() lister {
	cache := map[string][]string{}
	return func(pkg, bench string) bool {
		names, ok := cache[pkg]
		if !ok {
			out, _ := exec.Command("go", "test", "-list", "^Benchmark", "./"+pkg).Output()
			names = strings.Fields(string(out))
			cache[pkg] = names
		}
		top, _, _ := strings.Cut(bench, "/") // sub-benchmarks are not listed
		return slices.Contains(names, top)
	}
}

// format prints v with a precision that suits its size.
func format(v float64, unit string) string {
	switch {
	case v >= 100000:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64)) + " " + unit
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	default:
		return strconv.FormatFloat(v, 'f', 2, 64) + " " + unit
	}
}

func groupThousands(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// row is one printed line of the table.
type row struct{ figure, target, measured, direct, verdict string }

func rows(res results, exists lister) []row {
	var out []row
	for _, f := range figures {
		r := row{figure: f.name, target: f.target, direct: "—"}
		v, ok := res.get(f.measured)
		switch {
		case ok:
			r.measured = format(v, f.unit)
		case exists != nil && !exists(f.measured.pkg, f.measured.bench):
			r.measured = "not yet in this tree (" + f.measured.pkg + " " + f.measured.bench + ")"
		default:
			r.measured = "no result (" + f.measured.pkg + " " + f.measured.bench + " failed or was not run)"
		}
		if f.direct != nil {
			if d, ok := res.get(*f.direct); ok {
				r.direct = format(d, f.unit)
			}
		} else if f.derivedDirect != nil {
			if d, ok := f.derivedDirect(res); ok {
				r.direct = format(d, f.unit)
			}
		}
		check := v
		if ok && f.check != nil {
			check, ok = res.get(*f.check)
			if ok {
				r.measured += fmt.Sprintf(f.checkFormat, check)
			}
		}
		if f.extra != nil {
			if x, xok := res.get(*f.extra); xok {
				r.measured += fmt.Sprintf(f.extraFormat, x)
			}
		}
		switch {
		case !ok || f.op == "":
			r.verdict = ""
		case f.op == "<" && check < f.limit, f.op == ">" && check > f.limit:
			r.verdict = "yes"
		default:
			r.verdict = "NO"
		}
		out = append(out, r)
	}
	return out
}

// printTable prints the rows as a Markdown table, then what each direct
// figure is.
func printTable(w io.Writer, rs []row) {
	fmt.Fprintln(w, "| figure | target | measured | direct | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.figure, r.target, r.measured, r.direct, r.verdict)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Direct: the same work without semaphored.")
	for _, f := range figures {
		if f.directIs != "" {
			fmt.Fprintf(w, "- %s: %s.\n", f.name, f.directIs)
		}
	}
}

// machine describes where the figures were measured.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ")
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d CPUs (%s), %s %s, %s%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, goVersion, load)
}

func main() {
	noList := flag.Bool("no-list", false, "do not ask go test -list which benchmarks exist")
	flag.Parse()
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	var exists lister
	if !*noList {
		exists = goTestList()
	}
	fmt.Printf("Measured on %s.\n\n", machine())
	printTable(os.Stdout, rows(res, exists))
}
