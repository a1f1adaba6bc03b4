package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// endReason says why a process was signalled.
type endReason int

const (
	endNone endReason = iota
	endStopped
	endTimedOut
)

// proc runs argv (argv[0] already resolved to a path) in dir with the run's
// environment, passing its output to the sink. It returns the exit code
// when the process ran to its end, or a non-nil Result when the run must
// end here (stopped, timed out, output lost, could not start).
func (r *run) proc(dir string, argv []string, env []string) (int, *Result) {
	if res := r.interrupted(); res != nil {
		return -1, res
	}
	if err := r.log("$ " + shellQuote(append([]string{displayName(argv[0])}, argv[1:]...))); err != nil {
		return -1, &Result{Status: Error, ExitCode: -1, Message: err.Error()}
	}

	out, pw, err := newOutputPipe()
	if err != nil {
		return -1, errResult(fmt.Errorf("create output pipe: %w", err))
	}
	defer out.Close()
	cmd := &exec.Cmd{
		Path:        argv[0],
		Args:        argv,
		Dir:         dir,
		Env:         env,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	pw.Close() // the child holds the only write ends now
	if err != nil {
		return -1, errResult(fmt.Errorf("start %s: %w", displayName(argv[0]), err))
	}
	pid := cmd.Process.Pid // also the process group id
	// Leftovers are looked for among processes started since this one:
	// its stat stays readable until Wait reaps it.
	started, _ := readStat(pid)

	readDone := make(chan error, 1)
	go func() { readDone <- copyLines(out, r.mask, r.sink) }()
	exited := make(chan struct{})
	go func() {
		// Learn of the exit without reaping: the zombie keeps the process
		// group id reserved, so signalling -pid stays safe until Wait.
		waitExitNoReap(pid)
		close(exited)
	}()

	var (
		reason    endReason
		stopC     = r.ctx.Done()
		timeoutC  <-chan time.Time
		killC     <-chan time.Time
		lingerC   <-chan time.Time
		readerEnd bool
		procEnd   bool
		readErr   error
		lingered  bool
	)
	if !r.deadline.IsZero() {
		t := time.NewTimer(time.Until(r.deadline))
		defer t.Stop()
		timeoutC = t.C
	}
	var killTimer, lingerTimer *time.Timer
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
		if lingerTimer != nil {
			lingerTimer.Stop()
		}
	}()
	signal := func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	terminate := func(why endReason) {
		if reason == endNone {
			reason = why
		}
		if killTimer == nil {
			signal(syscall.SIGTERM)
			killTimer = time.NewTimer(r.grace)
			killC = killTimer.C
		}
	}
	exitedC := (<-chan struct{})(exited)
	for !(readerEnd && procEnd) {
		select {
		case <-stopC:
			stopC = nil
			terminate(endStopped)
		case <-timeoutC:
			timeoutC = nil
			terminate(endTimedOut)
		case <-killC:
			killC = nil
			signal(syscall.SIGKILL)
		case err := <-readDone:
			readerEnd = true
			readErr = err
			if err != nil && !lingered {
				signal(syscall.SIGKILL)
			}
		case <-exitedC:
			exitedC = nil
			procEnd = true
			if !readerEnd {
				lingerTimer = time.NewTimer(r.grace)
				lingerC = lingerTimer.C
			}
		case <-lingerC:
			lingerC = nil
			lingered = true
			signal(syscall.SIGKILL)
			out.abandon()
		}
	}
	_ = cmd.Wait() // reaps; the exit status is in ProcessState
	code := cmd.ProcessState.ExitCode()
	// Processes that left the process group (setsid, a daemon) end with
	// the process that started them.
	killed, leftErr := endLeftovers(runMarker(r.spec.PrivateDir), started.start, r.grace)

	var se *sinkError
	switch {
	case errors.As(readErr, &se):
		return -1, &Result{Status: Error, ExitCode: -1, Message: se.Error()}
	case lingered:
		if err := r.log(fmt.Sprintf("output still open %s after the process exited (a background process holds it): killed the process group and stopped reading", r.grace)); err != nil {
			return -1, &Result{Status: Error, ExitCode: -1, Message: err.Error()}
		}
	case readErr != nil:
		return -1, errResult(readErr)
	}
	if killed > 0 || leftErr != nil {
		msg := fmt.Sprintf("killed %d process(es) the job left running", killed)
		if leftErr != nil {
			msg += "; some could not be ended: " + leftErr.Error()
		}
		if err := r.log(msg); err != nil {
			return -1, &Result{Status: Error, ExitCode: -1, Message: err.Error()}
		}
	}
	switch reason {
	case endTimedOut:
		return -1, r.timeoutResult()
	case endStopped:
		return -1, &Result{Status: Stopped, ExitCode: -1, Message: "stopped"}
	}
	return code, nil
}

// waitExitNoReap blocks until process pid has exited, leaving it waitable
// (waitid with WNOWAIT).
func waitExitNoReap(pid int) {
	const (
		pPID    = 1
		wNOWAIT = 0x1000000
	)
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

func errResult(err error) *Result {
	return &Result{Status: Error, ExitCode: -1, Message: err.Error()}
}

// pipeSize is the capacity asked for the output pipe: a larger buffer lets
// a fast writer run on while the reader is busy, with fewer wake-ups.
const pipeSize = 1 << 20

// errAbandoned ends the reading of an output that stays open after the
// process exited.
var errAbandoned = errors.New("output abandoned: still open after the process exited")

// outputPipe is the read end of a job's output pipe. Both ends are in
// blocking mode and the read end is never registered with epoll (unlike
// os.Pipe): on Linux, a pipe that was ever polled wakes its pollers on
// every write, so a process printing line by line would wake the Go
// netpoller once per line and run markedly slower than with its output
// on /dev/null. Read is a plain blocking read; abandon makes a Read in
// progress, and every later one, return errAbandoned.
type outputPipe struct {
	f         *os.File
	fd        int
	abandoned atomic.Bool
}

// newOutputPipe returns the read end and the write end (for the child)
// of a new pipe of pipeSize bytes.
func newOutputPipe() (*outputPipe, *os.File, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	// Failing (e.g. above /proc/sys/fs/pipe-max-size for non-root) keeps
	// the default size.
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), fSETPIPESZ, pipeSize)
	return &outputPipe{f: os.NewFile(uintptr(p[0]), "|0"), fd: p[0]}, os.NewFile(uintptr(p[1]), "|1"), nil
}

const fSETPIPESZ = 1031

// Read reads from the pipe, blocking until there is output or EOF.
func (o *outputPipe) Read(b []byte) (int, error) {
	if o.abandoned.Load() {
		return 0, errAbandoned
	}
	n, err := o.f.Read(b)
	if o.abandoned.Load() {
		return 0, errAbandoned
	}
	return n, err
}

// abandon stops the reading: it sets the flag Read checks and wakes a
// Read blocked on the empty pipe by writing one byte through a write end
// of its own, opened via /proc/self/fd.
func (o *outputPipe) abandon() {
	o.abandoned.Store(true)
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", o.fd), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return // a blocked Read then ends when the last writer goes
	}
	_, _ = w.Write([]byte{0})
	_ = w.Close()
}

// Close closes the read end.
func (o *outputPipe) Close() error { return o.f.Close() }
