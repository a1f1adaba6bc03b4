package runner

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER): a process a job detaches (setsid, a double
// fork, a daemon) is then re-parented to the daemon instead of to init,
// so the daemon reaps it once the run has ended it. The daemon calls it
// once, at start, before any task runs; it applies to the whole process.
// Without it, leftovers are still found by their TMPDIR and ended, and
// init reaps them.
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// isSubreaper reports whether this process is a child subreaper.
func isSubreaper() bool {
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

// procInfo is what /proc tells of one process.
type procInfo struct {
	pid, ppid, pgid, sid int
	zombie               bool
	// start is when the process started, in clock ticks after boot.
	start uint64
}

// readStat parses /proc/PID/stat; ok is false when the process is gone.
func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// "pid (comm) S ppid pgrp session ..."; comm may hold spaces and ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, zombie: string(f[0]) == "Z" || string(f[0]) == "X"}
	p.ppid, _ = strconv.Atoi(string(f[1]))
	p.pgid, _ = strconv.Atoi(string(f[2]))
	p.sid, _ = strconv.Atoi(string(f[3]))
	p.start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	return p, true
}

// hasEnv reports whether process pid's environment holds the entry kv
// ("KEY=VALUE"). Processes whose environment cannot be read (other users',
// zombies) do not.
func hasEnv(pid int, kv []byte) bool {
	has, _ := envHas(pid, kv)
	return has
}

// envHas is hasEnv that also says when the answer is unknown: a live
// process whose environment reads empty is between fork and exec (or
// exiting), and may still turn out to be the run's.
func envHas(pid int, kv []byte) (has, unknown bool) {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false, false
	}
	if len(env) == 0 {
		return false, true
	}
	for _, e := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(e, kv) {
			return true, false
		}
	}
	return false, false
}

// pids lists the process ids in /proc.
func pids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// children returns the children of process pid, as the kernel lists them
// per thread in /proc/PID/task/TID/children; ok is false when the kernel
// does not offer the list (CONFIG_PROC_CHILDREN) or pid is gone.
func children(pid int) (out []int, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/children")
		if err != nil {
			if os.IsNotExist(err) {
				return nil, false
			}
			continue // the thread ended
		}
		for _, f := range bytes.Fields(b) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, true
}

// descendants returns every process below pid; ok is false when the
// kernel offers no children lists.
func descendants(pid int) ([]int, bool) {
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, ok := children(p)
		if !ok {
			if p == pid {
				return nil, false
			}
			continue // gone meanwhile
		}
		for _, c := range kids {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out, true
}

// candidates are the processes that may be a run's leftovers: as a
// subreaper, the daemon's descendants (every process a job started that is
// still running is one, detached or not); else every process.
func candidates(subreaper bool) []int {
	if subreaper {
		if d, ok := descendants(os.Getpid()); ok {
			return d
		}
	}
	return pids()
}

// runMarker is the environment entry that marks every process of a run:
// SEMAPHORED_RUN_DIR=<PrivateDir>, set after Spec.Env so a template cannot
// override it, and inherited by every process the job starts, also those
// that leave its process group with setsid.
func runMarker(privateDir string) []byte { return []byte(runDirEnv + "=" + privateDir) }

// kthreadd is the pid of the kernel's thread creator, the parent of every
// kernel thread.
const kthreadd = 2

// runDirEnv names the run's marker variable (see runMarker).
const runDirEnv = "SEMAPHORED_RUN_DIR"

// leftovers returns the live processes (other than this one and those in
// skip) that belong to a run: started no earlier than since (clock ticks
// after boot, as in /proc/PID/stat), with the run's marker in their
// environment. unsure reports whether a live process started since then
// had an environment that could not be told (see envHas): the caller looks
// again.
func leftovers(marker []byte, since uint64, subreaper bool, skip map[int]int) (out []int, unsure bool) {
	self := os.Getpid()
	for _, pid := range candidates(subreaper) {
		if _, ok := skip[pid]; ok || pid == self {
			continue
		}
		// The environment first: reading it is cheaper than the stat,
		// and it rules out nearly every process.
		has, unknown := envHas(pid, marker)
		if !has && !unknown {
			continue
		}
		if st, ok := readStat(pid); ok && !st.zombie && st.start >= since {
			switch {
			case has:
				out = append(out, pid)
			case st.ppid != kthreadd && pid != kthreadd: // kernel threads have no environment
				unsure = true
			}
		}
	}
	return out, unsure
}

// killIfStill sends SIGKILL to pid through a pidfd, after checking again,
// on the pidfd's process, that it still belongs to the run: the pid cannot
// have been reused for an unrelated process in between. It returns the
// pidfd, which the caller closes, to learn when the process has exited.
func killIfStill(pid int, marker []byte) (pidfd int, ok bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, false // gone
	}
	if st, ok := readStat(pid); ok && !st.zombie && hasEnv(pid, marker) &&
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
		return fd, true
	}
	unix.Close(fd)
	return -1, false
}

// awaitExit waits until every process of the pidfds (pid → pidfd) has
// exited (a pidfd polls readable then), for at most wait; it reports
// whether all did.
func awaitExit(pidfds map[int]int, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	fds := make([]unix.PollFd, 0, len(pidfds))
	for _, fd := range pidfds {
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	for len(fds) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return false
		}
		live := fds[:0]
		for _, f := range fds {
			if f.Revents == 0 {
				live = append(live, f)
			}
		}
		fds = live
	}
	return true
}

// reapOrphans reaps the zombies among this process's children that were
// re-parented to it (it is a subreaper): they left their process group
// (another session than ours) or are members, not leaders, of another
// process group than ours. A process the runner starts is the leader of
// its own group and is waited for by its exec.Cmd, and other children of
// the daemon stay in its group, so neither is ever taken here.
func reapOrphans() int {
	self := os.Getpid()
	sid, _ := unix.Getsid(0)
	pgrp := unix.Getpgrp()
	n := 0
	kids, ok := children(self)
	if !ok {
		kids = pids()
	}
	for _, pid := range kids {
		st, ok := readStat(pid)
		if !ok || !st.zombie || st.ppid != self {
			continue
		}
		if st.sid == sid && (st.pgid == pgrp || st.pgid == st.pid) {
			continue
		}
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && got == pid {
			n++
		}
	}
	return n
}

// errLeftovers is returned when processes of a run survived every SIGKILL
// round (a process stuck in the kernel, or one that forks faster than it
// is killed).
var errLeftovers = errors.New("processes of the job are still running after being killed")

// exitWait bounds the wait for killed processes to exit. SIGKILL cannot be
// caught, but a process still has to be scheduled to exit (seconds on a
// loaded machine) and one in uninterruptible sleep exits only when it
// wakes; such a process is reported, not waited for forever.
const exitWait = 10 * time.Second

// endLeftovers ends what a run's process left behind once it has exited
// (and been reaped): every process started since then with the run's
// marker gets SIGKILL, in rounds until one finds none (a process may fork
// while a round runs), for at most wait and one last round. Then it waits,
// through their pidfds, until the processes it killed have exited: one
// that is exiting can no longer be told by its environment, so /proc
// cannot say when it is gone. As a subreaper the daemon is the parent of
// those that were orphaned, and reaps them, and the orphans that exited by
// themselves during the run. It returns how many processes it killed.
func endLeftovers(marker []byte, since uint64, wait time.Duration) (int, error) {
	killed := map[int]int{} // pid → its pidfd, for each process sent SIGKILL
	defer func() {
		for _, fd := range killed {
			unix.Close(fd)
		}
	}()
	deadline := time.Now().Add(wait)
	subreaper := isSubreaper()
	var err error
	for final := false; ; {
		found, unsure := leftovers(marker, since, subreaper, killed)
		for _, pid := range found {
			if fd, ok := killIfStill(pid, marker); ok {
				killed[pid] = fd
			}
		}
		if subreaper {
			reapOrphans()
		}
		if final && len(found) > 0 {
			err = errLeftovers // new processes kept appearing for the whole wait
		}
		if final || len(found) == 0 && !unsure {
			break
		}
		// Past the deadline, one last round tells whether what this
		// round killed left anything (a child forked before its kill).
		final = time.Now().After(deadline)
		time.Sleep(2 * time.Millisecond) // let the kernel deliver the signals
	}
	if !awaitExit(killed, exitWait) {
		err = errLeftovers
	}
	if subreaper {
		for range 100 {
			if reapOrphans() == 0 {
				break
			}
		}
	}
	return len(killed), err
}
