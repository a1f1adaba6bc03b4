package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

// drainConfig is a project whose gated job runs until the file named by
// $GATE exists, then prints "done" and succeeds.
func drainConfig(t *testing.T, gate, drain string) string {
	t.Helper()
	return configDir(t, map[string]string{
		"drain.yaml": `project: drain
repositories:
  here:
    url: .
environments:
  gate:
    env:
      GATE: ` + gate + `
templates:
  gated:
    app: bash
    repository: here
    script: gated.sh
    environment: gate
`,
		"settings.yaml": "settings:\n  drain_timeout: " + drain + "\n  stop_grace_period: 1s\n",
		"gated.sh":      "echo started\nwhile [ ! -e \"$GATE\" ]; do sleep 0.05; done\necho done\n",
	})
}

// follow opens a followed log and sends each line it reads to lines; the
// channel is closed when the stream ends, err telling how.
type follower struct {
	lines chan string
	err   chan error
}

func (d *daemon) follow(id uint64) *follower {
	d.t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/tasks/%d/log?follow=1", d.url, id), nil)
	req.Header.Set("Authorization", "Bearer "+d.token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		d.t.Fatalf("follow task %d: %v %v", id, err, resp)
	}
	f := &follower{lines: make(chan string, 100), err: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		defer close(f.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		f.err <- sc.Err()
	}()
	return f
}

// until reads lines until one contains want.
func (f *follower) until(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				t.Fatalf("the followed log ended before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q in the followed log", want)
		}
	}
}

// hammer sends requests (a read and a submission) in a loop until stop is
// closed, and returns the status codes of the answers it got; transport
// errors (the listener closed) are not answers.
func (d *daemon) hammer(id uint64, stop <-chan struct{}) func() map[int]int {
	token := d.token()
	var (
		mu    gosync.Mutex
		codes = map[int]int{}
		wg    gosync.WaitGroup
	)
	wg.Go(func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, r := range []struct{ method, path, body string }{
				{"GET", fmt.Sprintf("/api/v1/tasks/%d", id), ""},
				{"POST", "/api/v1/projects/drain/templates/gated/tasks", "{}"},
			} {
				req, _ := http.NewRequest(r.method, d.url+r.path, strings.NewReader(r.body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		}
	})
	return func() map[int]int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return codes
	}
}

// TestShutdownDrains stops the daemon with requests, a follower and a
// running task in flight: it stops accepting, lets the task finish within
// drain_timeout while the follower sees it to the end, never answers with
// an error other than 503, keeps the waiting task for the next start and
// exits cleanly.
func TestShutdownDrains(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	cfg := drainConfig(t, gate, "60s")
	d := startDaemon(t, cfg, "")
	running := d.create("drain", "gated", "{}")
	f := d.follow(running)
	f.until(t, "started")
	waiting := d.create("drain", "gated", "{}") // concurrency 1: it waits

	stop := make(chan struct{})
	codes := d.hammer(running, stop)
	d.cmd.Process.Signal(syscall.SIGTERM)
	testenv.WaitFor(t, "the daemon to log the drain", 10*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "draining: waiting for running tasks to finish")
	})
	// New connections are refused from now on; the daemon is still there.
	testenv.WaitFor(t, "connections to be refused", 10*time.Second, func() bool {
		resp, err := http.Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	select {
	case err := <-d.exited:
		t.Fatalf("the daemon exited (%v) before its running task ended", err)
	default:
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.until(t, "done")
	for range f.lines {
	}
	if err := <-f.err; err != nil {
		t.Errorf("the followed log was cut (%v), want a clean end after the task ended", err)
	}
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			t.Fatalf("exit after the drain: %v\n%s", err, d.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not exit after its last task ended")
	}
	close(stop)
	for code, n := range codes() {
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d during the shutdown, want none (503 at most)", n, code)
		}
	}

	d2 := startDaemon(t, cfg, d.data)
	d2.waitSuccess(running, 5*time.Second)
	d2.waitSuccess(waiting, 20*time.Second)
}

// TestSecondSignalStopsNow: a second SIGTERM during the drain stops the
// running task at once.
func TestSecondSignalStopsNow(t *testing.T) {
	cfg := drainConfig(t, filepath.Join(t.TempDir(), "never"), "5m")
	d := startDaemon(t, cfg, "")
	id := d.create("drain", "gated", "{}")
	d.follow(id).until(t, "started")
	d.cmd.Process.Signal(syscall.SIGTERM)
	testenv.WaitFor(t, "the drain to begin", 10*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "draining: waiting for running tasks to finish")
	})
	start := time.Now()
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after the second SIGTERM: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("exit took %s after the second SIGTERM", took)
	}
	if !strings.Contains(d.logs.String(), "second stop signal") {
		t.Errorf("the log does not say the second signal stopped the tasks:\n%s", d.logs.String())
	}
	d2 := startDaemon(t, cfg, d.data)
	_, b := d2.get(fmt.Sprintf("/api/v1/tasks/%d", id))
	if !strings.Contains(b, `"status":"stopped"`) || !strings.Contains(b, "daemon shutting down") {
		t.Errorf("task after a second SIGTERM: got %s, want stopped by the shutdown", b)
	}
}

// TestRestartOnBrokenConfig restarts the daemon on a config directory
// that turned invalid, then on one that is missing: it starts on the last
// good revision, whose root still resolves `url: .`, and says so.
func TestRestartOnBrokenConfig(t *testing.T) {
	cfg := configDir(t, map[string]string{
		"here.yaml": "project: here\nrepositories:\n  here:\n    url: .\ntemplates:\n  hello:\n    app: bash\n    repository: here\n    script: hello.sh\n",
		"hello.sh":  "echo hello from the config root\n",
	})
	d := startDaemon(t, cfg, "")
	d.waitSuccess(d.create("here", "hello", "{}"), 20*time.Second)
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Broken: a bad key. The last good revision runs a `url: .` task.
	if err := os.WriteFile(filepath.Join(cfg, "here.yaml"), []byte("project: here\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, cfg, d.data)
	id := d2.create("here", "hello", "{}")
	d2.waitSuccess(id, 20*time.Second)
	if _, log := d2.get(fmt.Sprintf("/api/v1/tasks/%d/log", id)); !strings.Contains(log, "hello from the config root") {
		t.Errorf("log of the task on the restored revision:\n%s", log)
	}
	if err := d2.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Missing: the daemon starts on the last good revision and says so.
	if err := os.RemoveAll(cfg); err != nil {
		t.Fatal(err)
	}
	d3 := startDaemon(t, cfg, d.data)
	if !strings.Contains(d3.logs.String(), "the config directory is missing; running on the last good revision") {
		t.Errorf("the log does not say the config directory is missing:\n%s", d3.logs.String())
	}
	testenv.WaitFor(t, "semaphored_config_source_up 0", 10*time.Second, func() bool {
		resp, err := http.Get(d3.url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "semaphored_config_source_up 0")
	})
	if code, body := d3.get("/api/v1/projects/here/templates"); code != 200 || !strings.Contains(body, `"hello"`) {
		t.Errorf("templates of the restored revision: %d %s", code, body)
	}
}

// TestServeRefusesMissingConfigOnFirstStart: with no revision to fall
// back on, a missing config directory is an error (a typo, most likely).
func TestServeRefusesMissingConfigOnFirstStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, errOut, code := runCmd(t, "serve", "--config", missing, "--data", t.TempDir(), "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "no such file or directory") {
		t.Fatalf("missing config on first start: exit %d, stderr %q", code, errOut)
	}
}
