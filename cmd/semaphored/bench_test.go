package main

import (
	"io"
	"net"
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
// also reports the binary's size and the daemon's RSS 5 s after its start
// (the definition of idle RSS).
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
	for b.Loop() {
		addr := freeAddr(b)
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
		time.Sleep(time.Until(start.Add(5 * time.Second))) // let it idle
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

// freeAddr returns a loopback address no one listens on now: the daemon
// is given a fixed address, so that the time to its first answer does not
// include reading the address from its log. (A fixed port range collided
// with other processes on a shared machine.)
func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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
	cfg := configDir(b, map[string]string{
		"bench.yaml":  bigJobConfig,
		"gigabyte.sh": "yes \"$(printf '%0126d' 0)\" | head -c 1073741824\n",
		"trivial.sh":  "echo hi\n",
	})
	var peak float64
	for b.Loop() {
		b.StopTimer()
		d := startDaemon(b, cfg, "", "--log-level", "info")
		b.StartTimer()
		d.waitSuccess(d.create("bench", "gigabyte", "{}"), 10*time.Minute)
		b.StopTimer()
		peak = max(peak, readStatusMB(d.cmd.Process.Pid, "VmHWM"))
		d.kill(syscall.SIGTERM)
		b.StartTimer()
	}
	b.ReportMetric(peak, "MB-peak-RSS")
}

// BenchmarkDaemon50kRequests sends 50,000 API requests (task list, task,
// projects) to the real daemon and reports its RSS before and after.
// Target: within 5 MB.
func BenchmarkDaemon50kRequests(b *testing.B) {
	cfg := configDir(b, map[string]string{"bench.yaml": bigJobConfig, "trivial.sh": "echo hi\n", "gigabyte.sh": "true\n"})
	var growth float64
	for b.Loop() {
		b.StopTimer()
		d := startDaemon(b, cfg, "", "--log-level", "info")
		var id uint64
		for range 20 {
			id = d.create("bench", "trivial", "{}")
		}
		d.waitSuccess(id, time.Minute)
		token := d.token()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		paths := []string{"/api/v1/tasks?limit=20", "/api/v1/tasks/" + strconv.FormatUint(id, 10), "/api/v1/projects"}
		request := func(i int) {
			req, _ := http.NewRequest("GET", d.url+paths[i%len(paths)], nil)
			req.Header.Set("Authorization", "Bearer "+token)
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
		d.kill(syscall.SIGTERM)
		b.StartTimer()
	}
	b.ReportMetric(growth, "MB-RSS-growth")
}
