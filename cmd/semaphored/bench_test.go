package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServeStartup starts the stripped binary on a copy of the
// quickstart with a fresh data directory, and measures the time from exec
// to the first 200 of /healthz and of /readyz (the first sync applied). It
// also reports the binary's size and the daemon's RSS after it idles.
// Targets: healthz < 15 ms, readyz < 50 ms, idle RSS < 15 MB, binary < 20 MB.
func BenchmarkServeStartup(b *testing.B) {
	bin := semaphoredBinary(b)
	fi, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	cfg := b.TempDir()
	if err := os.CopyFS(cfg, os.DirFS("../../examples/quickstart")); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second}
	var healthz, readyz time.Duration
	var rss float64
	port := 43000
	for b.Loop() {
		port++
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(b.TempDir(), "data"), "--listen", addr, "--log-level", "error")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		h := pollUntil200(b, client, "http://"+addr+"/healthz", start)
		r := pollUntil200(b, client, "http://"+addr+"/readyz", start)
		healthz += h
		readyz += r
		b.StopTimer()
		time.Sleep(time.Second) // let it idle
		rss += readStatusMB(cmd.Process.Pid, "VmRSS")
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(healthz.Microseconds())/1000/n, "ms-healthz")
	b.ReportMetric(float64(readyz.Microseconds())/1000/n, "ms-readyz")
	b.ReportMetric(rss/n, "MB-idle-RSS")
	b.ReportMetric(float64(fi.Size())/1e6, "MB-binary")
}

func pollUntil200(b *testing.B, c *http.Client, url string, start time.Time) time.Duration {
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		if time.Since(start) > 10*time.Second {
			b.Fatalf("%s: no 200 within 10s (last error %v)", url, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// readStatusMB returns a field of /proc/pid/status in MB (VmRSS, VmHWM).
func readStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

const bigJobConfig = `project: bench
repositories:
  here:
    url: .
templates:
  gigabyte:
    app: bash
    repository: here
    script: gigabyte.sh
    timeout: 10m
  trivial:
    app: bash
    repository: here
    script: trivial.sh
`

// BenchmarkDaemonGigabyteJob runs a job that prints 1 GB (8.4 M lines of
// 127 bytes) through the real daemon, and reports the daemon's peak RSS
// (VmHWM) and the job's time. Target: daemon RSS under 60 MB.
func BenchmarkDaemonGigabyteJob(b *testing.B) {
	cfg := b.TempDir()
	os.WriteFile(filepath.Join(cfg, "bench.yaml"), []byte(bigJobConfig), 0o644)
	os.WriteFile(filepath.Join(cfg, "gigabyte.sh"), []byte("yes \"$(printf '%0126d' 0)\" | head -c 1073741824\n"), 0o755)
	os.WriteFile(filepath.Join(cfg, "trivial.sh"), []byte("echo hi\n"), 0o755)
	var peak float64
	for b.Loop() {
		b.StopTimer()
		d := startDaemonB(b, cfg)
		b.StartTimer()
		id := d.create("gigabyte")
		d.waitTerminal(id, 10*time.Minute)
		b.StopTimer()
		peak = max(peak, readStatusMB(d.cmd.Process.Pid, "VmHWM"))
		d.stop()
		b.StartTimer()
	}
	b.ReportMetric(peak, "MB-peak-RSS")
}

// BenchmarkDaemon50kRequests sends 50,000 API requests (task list, task,
// projects) to the real daemon and reports its RSS before and after.
// Target: within 5 MB.
func BenchmarkDaemon50kRequests(b *testing.B) {
	cfg := b.TempDir()
	os.WriteFile(filepath.Join(cfg, "bench.yaml"), []byte(bigJobConfig), 0o644)
	os.WriteFile(filepath.Join(cfg, "trivial.sh"), []byte("echo hi\n"), 0o755)
	os.WriteFile(filepath.Join(cfg, "gigabyte.sh"), []byte("true\n"), 0o755)
	var growth float64
	for b.Loop() {
		b.StopTimer()
		d := startDaemonB(b, cfg)
		var id uint64
		for range 20 {
			id = d.create("trivial")
		}
		d.waitTerminal(id, time.Minute)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		paths := []string{"/api/v1/tasks?limit=20", "/api/v1/tasks/" + strconv.FormatUint(id, 10), "/api/v1/projects"}
		request := func(i int) {
			req, _ := http.NewRequest("GET", d.url+paths[i%len(paths)], nil)
			req.Header.Set("Authorization", "Bearer "+d.token)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		for i := range 2000 { // warm up: connection pools, caches
			request(i)
		}
		before := readStatusMB(d.cmd.Process.Pid, "VmRSS")
		b.StartTimer()
		for i := range 50000 {
			request(i)
		}
		b.StopTimer()
		growth = readStatusMB(d.cmd.Process.Pid, "VmRSS") - before
		d.stop()
		b.StartTimer()
	}
	b.ReportMetric(growth, "MB-RSS-growth")
}

// benchDaemon is a daemon started by a benchmark.
type benchDaemon struct {
	b     *testing.B
	cmd   *exec.Cmd
	url   string
	token string
}

func startDaemonB(b *testing.B, cfg string) *benchDaemon {
	b.Helper()
	data := filepath.Join(b.TempDir(), "data")
	port := 44000 + int(time.Now().UnixNano()%1000)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(semaphoredBinary(b), "serve", "--config", cfg, "--data", data, "--listen", addr, "--log-level", "error")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	d := &benchDaemon{b: b, cmd: cmd, url: "http://" + addr}
	pollUntil200(b, &http.Client{Timeout: time.Second}, d.url+"/readyz", time.Now())
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	d.token = strings.TrimSpace(string(tok))
	return d
}

func (d *benchDaemon) create(template string) uint64 {
	req, _ := http.NewRequest("POST", d.url+"/api/v1/projects/bench/templates/"+template+"/tasks", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.b.Fatal(err)
	}
	defer resp.Body.Close()
	var t struct{ ID uint64 }
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != 201 {
		d.b.Fatalf("create task: %s %v", resp.Status, err)
	}
	return t.ID
}

func (d *benchDaemon) waitTerminal(id uint64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", d.url+"/api/v1/tasks/"+strconv.FormatUint(id, 10), nil)
		req.Header.Set("Authorization", "Bearer "+d.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			d.b.Fatal(err)
		}
		var t struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&t)
		resp.Body.Close()
		switch t.Status {
		case "success":
			return
		case "failure", "error", "stopped", "interrupted":
			d.b.Fatalf("task %d ended %s", id, t.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.b.Fatalf("task %d did not end within %s", id, timeout)
}

func (d *benchDaemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
}
