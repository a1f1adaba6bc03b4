package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParse(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    metric
		want float64
		ok   bool
	}{
		{ms("internal/exec", "BenchmarkTrivialTask", "p99-ms"), 9.9, true},
		{nsToMS("internal/exec", "BenchmarkTrivialTask"), 7.400112, true},
		{ms("internal/exec", "BenchmarkThroughput500", "tasks/s"), 219, true}, // median of three runs
		{ms("internal/state", "BenchmarkAppendLog/batch=1000", "lines/s"), 1801801, true},
		{ms("internal/state", "BenchmarkAppendLog/batch=100", "lines/s"), 961538, true},
		{nsToMS("internal/sync", "BenchmarkApply100x100"), 1210, true},
		{ms("internal/exec", "BenchmarkTrivialTask", "tasks/s"), 0, false},                   // a unit it did not report
		{ms("internal/sync", "BenchmarkTrivialTask", "p99-ms"), 0, false},                    // another package's benchmark
		{ms("internal/webhook", "BenchmarkWebhookAck", "p99-ms"), 0, false},                  // not run
		{ms("cmd/semaphored", "BenchmarkServeStartup", "MB-binary"), 13.9, true},             // last metric of a line
		{ms("internal/exec", "BenchmarkJob200kLines", "overhead-%"), 4.7, true},              // a unit with a sign
		{metric{"internal/exec", "BenchmarkTrivialTask", "B/op", 1}, 81234, true},            // -benchmem columns
		{metric{"internal/state", "BenchmarkAppendLog/batch=1000", "MB/s", 1}, 144.14, true}, // SetBytes column
	} {
		got, ok := res.get(tc.m)
		if ok != tc.ok || (ok && (got < tc.want*0.999999 || got > tc.want*1.000001)) {
			t.Errorf("%s %s %s: got %v, %v; want %v, %v", tc.m.pkg, tc.m.bench, tc.m.unit, got, ok, tc.want, tc.ok)
		}
	}
}

// TestTable checks the whole table against a golden file: figures met and
// missed, direct figures, figures with no result, and figures whose
// benchmark is not in the tree.
func TestTable(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	absent := map[string]bool{"internal/webhook": true, "internal/report": true, "internal/web": true}
	exists := func(pkg, bench string) bool { return !absent[pkg] }
	var got bytes.Buffer
	printTable(&got, rows(res, exists))
	path := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("table: got\n%s\nwant\n%s", got.Bytes(), want)
	}
}

// TestFiguresNamed checks every figure has a name, a target and a
// benchmark, and that names are unique (they are the table's keys for a
// reader comparing two runs).
func TestFiguresNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range figures {
		if f.name == "" || f.target == "" || f.measured.bench == "" || f.measured.pkg == "" || f.unit == "" {
			t.Errorf("incomplete figure %+v", f)
		}
		if seen[f.name] {
			t.Errorf("figure %q twice", f.name)
		}
		seen[f.name] = true
		if (f.op == "") != (f.limit == 0) {
			t.Errorf("figure %q: op %q with limit %v", f.name, f.op, f.limit)
		}
		if f.direct == nil && f.derivedDirect == nil && f.directIs != "" || (f.direct != nil || f.derivedDirect != nil) && f.directIs == "" {
			t.Errorf("figure %q: a direct figure needs a description and the reverse", f.name)
		}
	}
}
