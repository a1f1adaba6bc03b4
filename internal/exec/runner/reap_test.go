package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var subreaperOnce sync.Once

// asSubreaper makes the test process a child subreaper, as the daemon is.
func asSubreaper(t *testing.T) {
	t.Helper()
	var err error
	subreaperOnce.Do(func() { err = BecomeSubreaper() })
	if err != nil {
		t.Fatalf("BecomeSubreaper: %v", err)
	}
	if !isSubreaper() {
		t.Fatal("isSubreaper: got false after BecomeSubreaper")
	}
}

// readPid reads the pid a job wrote to file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the job wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

// runForPid runs spec with $PIDFILE naming a file for the job to write a
// pid to, wants it to succeed, and returns that pid and the log.
func runForPid(t *testing.T, spec Spec) (int, *memSink) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	spec.Env = map[string]string{"PIDFILE": pidFile}
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success; log %q", res, sink.Lines())
	}
	return readPid(t, pidFile), sink
}

// processState is "" for a process that is gone (not even a zombie), else
// its state letter.
func processState(pid int) string {
	st, ok := readStat(pid)
	if !ok {
		return ""
	}
	if st.zombie {
		return "Z"
	}
	return "R"
}

// waitSetsid waits in a job until its background process $! has left the
// session (field 6 of /proc/PID/stat is its session id): a stop before
// that would end it with the process group.
const waitSetsid = "until [ \"$(cut -d' ' -f6 /proc/$!/stat)\" = \"$!\" ]; do sleep 0.01; done\n"

// TestDetachedProcessesEnd: a job that runs `setsid sleep 3600 &` leaves a
// process outside its process group; it must end with the run, whether
// the job ends by itself or is stopped, and be reaped (no zombie).
func TestDetachedProcessesEnd(t *testing.T) {
	asSubreaper(t)
	tests := []struct {
		name   string
		script string
		stop   bool
	}{
		{"job ends", "setsid sleep 3600 &\n" + waitSetsid + "echo $! > \"$PIDFILE\"\necho started\n", false},
		{"job stopped", "setsid sleep 3600 &\n" + waitSetsid + "echo $! > \"$PIDFILE\"\necho started\nsleep 3600\n", true},
		{"double fork", "( sleep 3600 >/dev/null 2>&1 & echo $! > \"$PIDFILE\" )\necho started\n", false},
		{"nohup with output redirected", "nohup setsid sleep 3600 >/dev/null 2>&1 &\necho $! > \"$PIDFILE\"\necho started\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			spec := bashSpec(t, tt.script)
			spec.Env = map[string]string{"PIDFILE": pidFile}
			spec.Grace = 500 * time.Millisecond
			sink := newMemSink("started")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := startJob(t, ctx, spec, sink, 10*time.Second, "the job never started")
			if tt.stop {
				cancel()
			}
			var res Result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			want := Success
			if tt.stop {
				want = Stopped
			}
			if res.Status != want {
				t.Errorf("got %+v, want %s", res, want)
			}
			pid := readPid(t, pidFile)
			if s := processState(pid); s != "" {
				t.Errorf("the detached process %d is still there (state %s) after Run returned", pid, s)
				_ = syscallKill(pid)
			}
			if !strings.Contains(sink.joined(), "killed 1 process(es) the job left running") {
				t.Errorf("log: got\n%s\nwant a line saying what was killed", sink.joined())
			}
		})
	}
}

// TestSlowExitAwaited: a killed leftover that takes long to exit (it has a
// large memory to free) is gone when Run returns, even with a grace far
// shorter than its exit. While it exits its environment no longer tells
// whose it is, so the run waits on the process it killed, not on /proc.
func TestSlowExitAwaited(t *testing.T) {
	asSubreaper(t)
	spec := bashSpec(t, "setsid python3 -c '"+
		"import os, sys, time\n"+
		"b = b\"x\" * (64 << 20)\n"+
		"open(sys.argv[1], \"w\").write(str(os.getpid()))\n"+
		"time.sleep(3600)' \"$PIDFILE.tmp\" >/dev/null 2>&1 &\n"+
		"until [ -s \"$PIDFILE.tmp\" ]; do sleep 0.01; done\n"+
		"mv \"$PIDFILE.tmp\" \"$PIDFILE\"\n")
	spec.Grace = time.Millisecond
	pid, sink := runForPid(t, spec)
	if s := processState(pid); s != "" {
		t.Errorf("the killed process %d is still there (state %s) after Run returned", pid, s)
		_ = syscallKill(pid)
	}
	if got := sink.joined(); !strings.Contains(got, "killed 1 process(es) the job left running") || strings.Contains(got, "could not be ended") {
		t.Errorf("log: got\n%s\nwant one process killed and none left", got)
	}
}

// TestDetachedOrphanReaped: a detached process that exits by itself while
// the job runs becomes the daemon's zombie; it is reaped when the run ends.
func TestDetachedOrphanReaped(t *testing.T) {
	asSubreaper(t)
	pid, _ := runForPid(t, bashSpec(t, "setsid sh -c 'exit 0' &\necho $! > \"$PIDFILE\"\nsleep 0.3\n"))
	if s := processState(pid); s != "" {
		t.Errorf("the orphan %d is still there (state %s), want it reaped", pid, s)
	}
}

// TestOtherRunsLeftAlone: ending one run's leftovers never touches the
// processes of another run that is still going.
func TestOtherRunsLeftAlone(t *testing.T) {
	asSubreaper(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	long := bashSpec(t, "setsid sleep 3600 &\n"+waitSetsid+"echo $! > \"$PIDFILE\"\necho started\nsleep 3600\n")
	long.Env = map[string]string{"PIDFILE": pidFile}
	long.Grace = 500 * time.Millisecond
	sink := newMemSink("started")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startJob(t, ctx, long, sink, 10*time.Second, "the long job never started")
	pid := readPid(t, pidFile)

	short := bashSpec(t, "setsid sleep 3600 &\n"+waitSetsid+"echo done\n")
	if res, s := runSpec(t, short); res.Status != Success || !strings.Contains(s.joined(), "killed 1 process(es)") {
		t.Fatalf("short run: got %+v, log %q", res, s.Lines())
	}
	if s := processState(pid); s != "R" {
		t.Errorf("the other run's detached process %d: got state %q, want it running", pid, s)
	}
	cancel()
	<-done
	if s := processState(pid); s != "" {
		t.Errorf("the detached process %d outlived its stopped run (state %s)", pid, s)
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// BenchmarkEndLeftovers is the cost added to every process of a run when
// it left nothing behind. As a subreaper (the daemon) it walks the
// daemon's descendants; otherwise it scans every process in /proc, reading
// the environment of those started since the run's process.
func BenchmarkEndLeftovers(b *testing.B) {
	marker := runMarker(b.TempDir())
	self, _ := readStat(os.Getpid())
	was := isSubreaper()
	defer setSubreaper(b, was)
	for _, sub := range []bool{true, false} {
		b.Run(fmt.Sprintf("subreaper=%v", sub), func(b *testing.B) {
			setSubreaper(b, sub)
			for b.Loop() {
				if n, err := endLeftovers(marker, self.start, time.Second); n != 0 || err != nil {
					b.Fatalf("got %d, %v", n, err)
				}
			}
		})
	}
}

func setSubreaper(b *testing.B, on bool) {
	v := uintptr(0)
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, v, 0, 0, 0); err != nil {
		b.Fatal(err)
	}
}
