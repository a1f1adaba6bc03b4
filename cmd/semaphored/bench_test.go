package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
		rss += readRSS(cmd.Process.Pid)
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

// readRSS returns VmRSS of pid in MB.
func readRSS(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
