package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type discardSink struct{}

func (discardSink) WriteLine(time.Time, string) error { return nil }

const script200k = "seq -f 'line %.0f of the benchmark job, with some typical log text' 1 200000\n"

// BenchmarkRun200kLines runs a 200,000-line job through Run into a
// discarding sink (with two secrets to mask).
func BenchmarkRun200kLines(b *testing.B) {
	spec := bashSpec(b, script200k)
	spec.Secrets = []string{"hunter2-secret", "another-Secret-Value"}
	cpu := startCPU()
	for b.Loop() {
		if res := Run(context.Background(), spec, discardSink{}, Hooks{}); res.Status != Success {
			b.Fatalf("got %+v, want success", res)
		}
	}
	cpu.report(b)
}

// BenchmarkDirect200kLines runs the same script with its output going to
// /dev/null directly: the baseline for BenchmarkRun200kLines.
func BenchmarkDirect200kLines(b *testing.B) {
	dir := b.TempDir()
	script := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte(script200k), 0o644); err != nil {
		b.Fatal(err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	cpu := startCPU()
	for b.Loop() {
		cmd := exec.Command("bash", script)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// cpuUse measures the CPU time of this process (the runner) and of its
// reaped children (the job), which, unlike wall time, does not depend on
// what else the shared machine runs.
type cpuUse struct{ self, children time.Duration }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuUse {
	return cpuUse{self: rusage(syscall.RUSAGE_SELF), children: rusage(syscall.RUSAGE_CHILDREN)}
}

func (c cpuUse) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(rusage(syscall.RUSAGE_SELF)-c.self)/1e6/n, "runner-cpu-ms/op")
	b.ReportMetric(float64(rusage(syscall.RUSAGE_CHILDREN)-c.children)/1e6/n, "job-cpu-ms/op")
}

func BenchmarkMask(b *testing.B) {
	line := "ok: [web-01] => (item=/etc/app/config.yml) changed: the deployment finished in 1.23s for release v1.2.3"
	tests := []struct {
		name    string
		secrets []string
		line    string
	}{
		{"no secrets", nil, line},
		{"2 secrets no match", []string{"hunter2-secret", "another-Secret-Value"}, line},
		{"10 secrets no match", tenSecrets(), line},
		{"10 secrets one match", tenSecrets(), line + " token=" + tenSecrets()[7]},
		{"10 secrets 1KiB line", tenSecrets(), strings.Repeat("x", 1024)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			m := newMasker(tt.secrets)
			b.SetBytes(int64(len(tt.line)))
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Mask(tt.line)
			}
		})
	}
}

func tenSecrets() []string {
	var s []string
	for _, v := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"} {
		s = append(s, "secret-"+v+"-V4lue!")
	}
	return s
}
