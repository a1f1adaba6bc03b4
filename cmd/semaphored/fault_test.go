package main

// The fault suite (issue 17): the real binary on a real BoltDB file, hurt
// the ways production hurts it (kill -9 at random points of a busy run, a
// config repository that goes away and comes back, a disk that fills, a
// second daemon on the same data directory), then checked for what an
// operator relies on. It runs with the normal test suite; its rounds are
// bounded so that the whole suite stays well under a minute on two cores.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
	"golang.org/x/sys/unix"
)

var faultSeed = flag.Uint64("fault-seed", 0, "seed of the fault suite's random kill points (0: from the clock; the seed used is logged)")

// seededRand returns the suite's random source and logs its seed, so a
// failing round can be replayed with -fault-seed.
func seededRand(t *testing.T) *rand.Rand {
	seed := *faultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random seed %d (replay with -fault-seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x5eed))
}

const busyConfig = `project: busy
repositories:
  here:
    url: .
templates:
  chatty:
    app: bash
    repository: here
    script: chatty.sh
  quick:
    app: bash
    repository: here
    script: quick.sh
`

// chattyLines is how many lines a chatty task prints, 20 ms apart.
const chattyLines = 20

func busyFiles() map[string]string {
	return map[string]string{
		"busy.yaml":     busyConfig,
		"settings.yaml": "settings:\n  max_parallel_tasks: 4\n",
		"chatty.sh":     fmt.Sprintf("for i in $(seq 1 %d); do echo \"chatty line $i\"; sleep 0.02; done\n", chattyLines),
		"quick.sh":      "echo quick done\n",
	}
}

// busyRun drives one daemon after another on the same data directory and
// remembers what clients were told: the tasks whose creation was
// acknowledged (201) and the log lines followers saw.
type busyRun struct {
	t     *testing.T
	data  string
	token string

	mu        sync.Mutex
	acked     map[uint64]string   // task id → template, creation answered 201
	seen      map[uint64][]string // task id → the most complete lines a follower saw
	sent      []delivery          // every push delivery made, acknowledged or not
	delivered map[string][]uint64 // delivery id → the tasks its acknowledgement named
}

// apiTask is the part of the API's task answer the suite reads.
type apiTask struct {
	ID       uint64    `json:"id"`
	Template string    `json:"template"`
	Status   string    `json:"status"`
	Message  string    `json:"message"`
	Commit   string    `json:"commit"`
	Started  time.Time `json:"started"`
}

func terminal(status string) bool {
	switch status {
	case "success", "failure", "error", "stopped", "interrupted":
		return true
	}
	return false
}

// request sends an authenticated request bound to ctx; unlike daemon.do it
// returns errors, because a daemon killed mid-request is expected here.
func request(ctx context.Context, method, url, token, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}

// taskSpec is a task to queue through the API: its template and the
// request body.
type taskSpec struct{ template, body string }

// produce follows the logs of the chatty tasks acknowledged earlier (a
// killed daemon's waiting tasks run on this one), then queues tasks of the
// given templates one after another, 40 ms apart, until ctx ends or the
// daemon stops answering, and follows the log of each chatty one.
func (r *busyRun) produce(ctx context.Context, d *daemon, specs []taskSpec, wg *sync.WaitGroup) {
	defer wg.Done()
	r.mu.Lock()
	for id, tmpl := range r.acked {
		if tmpl == "chatty" {
			wg.Add(1)
			go r.follow(ctx, d, id, wg)
		}
	}
	r.mu.Unlock()
	for _, spec := range specs {
		tmpl := spec.template
		resp, err := request(ctx, "POST", d.url+"/api/v1/projects/busy/templates/"+tmpl+"/tasks", r.token, spec.body)
		if err != nil {
			return // the daemon died: this creation was not acknowledged
		}
		var task apiTask
		err = json.NewDecoder(resp.Body).Decode(&task)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			return
		}
		r.mu.Lock()
		r.acked[task.ID] = tmpl
		r.mu.Unlock()
		if tmpl == "chatty" {
			wg.Add(1)
			go r.follow(ctx, d, task.ID, wg)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// follow reads task id's log as it streams and records every complete
// line it saw, up to the daemon's death.
func (r *busyRun) follow(ctx context.Context, d *daemon, id uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	resp, err := request(ctx, "GET", fmt.Sprintf("%s/api/v1/tasks/%d/log?follow=1", d.url, id), r.token, "")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	var lines []string
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // a partial line is not a line the store promised
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	r.mu.Lock()
	if len(lines) > len(r.seen[id]) {
		r.seen[id] = lines
	}
	r.mu.Unlock()
}

// jobProcesses returns the live (not zombie) processes that run a task of
// the daemon whose data directory is data: the runner gives every job
// TMPDIR=DATA/work/tasks/ID/..., inherited by its children. The key is the
// pid, the value the task id.
func jobProcesses(data string) map[int]uint64 {
	prefix := []byte("TMPDIR=" + filepath.Join(data, "work", "tasks") + string(filepath.Separator))
	found := map[int]uint64{}
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range paths {
		env, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if !bytes.HasPrefix(kv, prefix) {
				continue
			}
			dir := filepath.Base(filepath.Dir(p))
			pid, _ := strconv.Atoi(dir)
			if stat, err := os.ReadFile("/proc/" + dir + "/stat"); err != nil || bytes.Contains(stat, []byte(") Z ")) {
				break
			}
			rest := string(kv[len(prefix):])
			id, _ := strconv.ParseUint(strings.SplitN(rest, string(filepath.Separator), 2)[0], 10, 64)
			found[pid] = id
			break
		}
	}
	return found
}

// allTasks lists every task of the daemon (one page of up to 1,000).
func allTasks(t *testing.T, d *daemon) []apiTask {
	t.Helper()
	code, body := d.get("/api/v1/tasks?limit=1000")
	if code != http.StatusOK {
		t.Fatalf("task list: %d %s", code, body)
	}
	var tasks []apiTask
	if err := json.Unmarshal([]byte(body), &tasks); err != nil {
		t.Fatalf("task list: %v\n%s", err, body)
	}
	return tasks
}

// waitAllTerminal waits until no task of the daemon is waiting, starting
// or running, and returns them all.
func waitAllTerminal(t *testing.T, d *daemon, timeout time.Duration) []apiTask {
	t.Helper()
	var tasks []apiTask
	var open []string
	deadline := time.Now().Add(timeout)
	for {
		tasks = allTasks(t, d)
		open = open[:0]
		for _, tk := range tasks {
			if !terminal(tk.Status) {
				open = append(open, fmt.Sprintf("%d %s", tk.ID, tk.Status))
			}
		}
		if len(open) == 0 {
			return tasks
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, tasks still not finished: %v", timeout, open)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkState opens the state file of a stopped daemon and runs bbolt's
// consistency check over it.
func checkState(t *testing.T, data string) {
	t.Helper()
	st, err := state.Open(filepath.Join(data, "state.db"), state.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open the state file after the run: %v", err)
	}
	defer st.Close()
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("state file inconsistent: %v", err)
	}
}

// TestFaultKill9BusyRun kills the daemon with SIGKILL at random points of
// a busy run, restarts it on the same data, and does that several times.
// The run: tasks queued through the API every 40 ms, four running at once,
// their logs followed live; signed GitHub push deliveries arriving every
// 60 ms, each to run two templates at a commit of its own; commit statuses
// going out to a GitHub API fake; a new declaration file written into the
// watched config directory at a random moment. Then, on a last daemon:
//   - every delivery is sent again (as an operator redelivers the ones
//     that failed): an acknowledged one answers with the same tasks, and
//     every delivery has exactly one task per template it triggers;
//   - every task whose creation was acknowledged exists and ended; none is
//     left waiting or running; a task ends interrupted only if it had
//     started, with a message saying so; waiting tasks ran on a later
//     daemon;
//   - every line a follower saw is in the stored log, in order;
//   - every config edit is active (none lost to a kill);
//   - every final status of a task on the forge's repository (pushed, or
//     queued through the API) reached the forge, as the last state
//     posted for its commit and context;
//   - no job process of a killed daemon survives the restart, and the
//     state file passes bbolt's consistency check.
func TestFaultKill9BusyRun(t *testing.T) {
	const secret = "s3cr3t-value-for-tests" // startDaemon puts it in SEMAPHORED_TEST_SECRET
	rng := seededRand(t)
	rounds := 3
	if !testing.Short() {
		rounds = 5
	}
	site, shas := siteRepo(t, 1+24*rounds)
	next := 1 // the next unused commit of shas
	forge, apiURL := newFakeGitHub(t, secret)
	files := busyFiles()
	files["forge.yaml"] = forgeConfig(site, apiURL)
	cfg := configDir(t, files)
	r := &busyRun{t: t, data: t.TempDir(), acked: map[uint64]string{}, seen: map[uint64][]string{}, delivered: map[string][]uint64{}}
	var d *daemon
	var leftovers map[int]uint64 // job processes a killed daemon left behind
	waitLeftovers := func() {
		if len(leftovers) == 0 {
			return
		}
		testenv.WaitFor(t, fmt.Sprintf("the jobs a killed daemon left running (%v) to be ended", leftovers), 10*time.Second, func() bool {
			now := jobProcesses(r.data)
			for pid, id := range leftovers {
				if now[pid] == id {
					return false
				}
			}
			return true
		})
	}
	for round := range rounds {
		d = startDaemon(t, cfg, r.data, "--log-level", "info")
		r.token = d.token()
		if round == 0 {
			requireForgeParts(t, d)
		}
		waitLeftovers() // the previous daemon's jobs end once this one has recovered
		// Each task on the forge's repository gets a commit of its own, so
		// that its statuses are told apart from the others'.
		specs := make([]taskSpec, 8+rng.IntN(16))
		for i := range specs {
			specs[i] = taskSpec{[]string{"chatty", "chatty", "quick", "pushed"}[rng.IntN(4)], "{}"}
			if specs[i].template == "pushed" {
				specs[i].body = fmt.Sprintf(`{"commit":%q}`, shas[next])
				next++
			}
		}
		var pushes []delivery
		for range 4 + rng.IntN(6) {
			before := shas[next-1] // not read: no template filters on paths
			pushes = append(pushes, delivery{id: fmt.Sprintf("fault-%d-%d", round, next), sha: shas[next], body: pushBody(t, before, shas[next])})
			next++
		}
		r.sent = append(r.sent, pushes...)
		killAfter := time.Duration(rng.IntN(1500)) * time.Millisecond
		// A config change lands at a random moment too (the directory
		// is watched): it may be applied, or be caught up with by the
		// next daemon, never lost.
		editAfter := time.Duration(rng.IntN(1500)) * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go r.produce(ctx, d, specs, &wg)
		go r.push(ctx, d, secret, pushes, &wg)
		edited := make(chan error, 1)
		writeEdit := func() {
			name := filepath.Join(cfg, fmt.Sprintf("extra-%d.yaml", round))
			body := fmt.Sprintf("project: busy\ntemplates:\n  extra-%d:\n    app: bash\n    repository: here\n    script: quick.sh\n", round)
			edited <- os.WriteFile(name, []byte(body), 0o644)
		}
		edit := time.AfterFunc(editAfter, writeEdit)
		time.Sleep(killAfter) // the random kill point, not a wait for a condition
		d.kill(syscall.SIGKILL)
		cancel()
		wg.Wait()
		if edit.Stop() {
			writeEdit() // the kill came first: the edit lands between two daemons
		}
		if err := <-edited; err != nil {
			t.Fatal(err)
		}
		leftovers = jobProcesses(r.data)
		r.mu.Lock()
		t.Logf("round %d: config edit at %s, killed after %s; so far %d tasks and %d of %d deliveries acknowledged; %d job processes outlived the daemon",
			round, editAfter, killAfter, len(r.acked), len(r.delivered), len(r.sent), len(leftovers))
		r.mu.Unlock()
	}

	// A last daemon finishes what is left, with no more faults.
	d = startDaemon(t, cfg, r.data, "--log-level", "info")
	waitLeftovers()
	// Every delivery again: the acknowledged ones must not run twice, the
	// others run now.
	for _, dv := range r.sent {
		code, ids, err := deliverPush(context.Background(), d.url, secret, dv)
		if err != nil || (code != http.StatusOK && code != http.StatusCreated) || len(ids) != len(pushTemplates) {
			t.Fatalf("redelivery %s: %d %v %v", dv.id, code, ids, err)
		}
		if first, ok := r.delivered[dv.id]; ok && (code != http.StatusOK || !slices.Equal(first, ids)) {
			t.Errorf("redelivery of acknowledged %s: %d with tasks %v, first answer had %v", dv.id, code, ids, first)
		}
		r.delivered[dv.id] = ids
	}
	tasks := waitAllTerminal(t, d, 45*time.Second)
	byID := map[uint64]apiTask{}
	for _, tk := range tasks {
		if _, dup := byID[tk.ID]; dup {
			t.Errorf("task %d listed twice", tk.ID)
		}
		byID[tk.ID] = tk
	}
	for id, tmpl := range r.acked {
		tk, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("task %d (%s) was acknowledged and is lost", id, tmpl)
		case tk.Template != tmpl:
			t.Errorf("task %d: template %q, acknowledged as %q", id, tk.Template, tmpl)
		}
	}
	// Every config edit is active: none was lost to a kill.
	testenv.WaitFor(t, "every config edit to be active", 10*time.Second, func() bool {
		_, body := d.get("/api/v1/projects/busy/templates")
		for round := range rounds {
			if !strings.Contains(body, fmt.Sprintf(`"extra-%d"`, round)) {
				return false
			}
		}
		return true
	})
	var interrupted, succeeded int
	for _, tk := range tasks {
		switch tk.Status {
		case "success":
			succeeded++
		case "interrupted":
			interrupted++
			if tk.Started.IsZero() {
				t.Errorf("task %d interrupted but never started: a waiting task must run after a restart", tk.ID)
			}
			if !strings.Contains(tk.Message, "interrupted") {
				t.Errorf("task %d interrupted with message %q", tk.ID, tk.Message)
			}
		default:
			t.Errorf("task %d ended %s (%s): only success or interrupted are possible here", tk.ID, tk.Status, tk.Message)
		}
		_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", tk.ID))
		stored := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
		r.mu.Lock()
		seen := r.seen[tk.ID]
		r.mu.Unlock()
		if len(seen) > len(stored) || !slices.Equal(seen, stored[:len(seen)]) {
			t.Errorf("task %d: a follower saw lines the store lost:\nseen:\n%s\nstored:\n%s", tk.ID, strings.Join(seen, "\n"), log)
		}
		if tk.Status == "success" && tk.Template == "chatty" && !strings.Contains(log, fmt.Sprintf("chatty line %d\n", chattyLines)) {
			t.Errorf("task %d succeeded without its last line:\n%s", tk.ID, log)
		}
	}
	checkStatuses(t, forge, tasks)
	t.Logf("%d tasks (%d acknowledged by the API, %d deliveries): %d succeeded, %d interrupted; %d logs followed",
		len(tasks), len(r.acked), len(r.sent), succeeded, interrupted, len(r.seen))
	if len(r.acked) == 0 {
		t.Fatal("no task was acknowledged: the run was not busy")
	}
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	if left := jobProcesses(r.data); len(left) > 0 {
		t.Errorf("job processes outlived the daemons: %v", left)
	}
	checkState(t, r.data)
	r.checkDeliveries(t)
}

// checkDeliveries reads the stopped daemon's state file: every delivery
// sent is recorded with exactly one task per template its push triggers,
// at its commit, the tasks its acknowledgement named; and no other task
// claims to come from it.
func (r *busyRun) checkDeliveries(t *testing.T) {
	t.Helper()
	if len(r.sent) == 0 {
		return
	}
	ctx := context.Background()
	st, err := state.Open(filepath.Join(r.data, "state.db"), state.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Tasks(ctx, state.TaskFilter{}, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	fromDelivery := map[string]int{}
	for _, tk := range all {
		if id := tk.Trigger.DeliveryID; id != "" {
			fromDelivery[id]++
		}
	}
	for _, dv := range r.sent {
		rec, tasks, err := st.Delivery(ctx, "github", dv.id)
		if err != nil {
			t.Errorf("delivery %s: %v", dv.id, err)
			continue
		}
		var names []string
		var ids []uint64
		for _, tk := range tasks {
			names = append(names, tk.Template)
			ids = append(ids, tk.ID)
			if tk.Commit != dv.sha {
				t.Errorf("delivery %s: task %d at commit %s, pushed %s", dv.id, tk.ID, tk.Commit, dv.sha)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, pushTemplates) || rec.Pending {
			t.Errorf("delivery %s (pending %v) became tasks of %v, want exactly one each of %v", dv.id, rec.Pending, names, pushTemplates)
		}
		if n := fromDelivery[dv.id]; n != len(pushTemplates) {
			t.Errorf("delivery %s: %d tasks in the state name it, want %d", dv.id, n, len(pushTemplates))
		}
		if answered := r.delivered[dv.id]; !slices.Equal(sorted(answered), sorted(ids)) {
			t.Errorf("delivery %s: recorded tasks %v, the answer named %v", dv.id, ids, answered)
		}
	}
}

func sorted(ids []uint64) []uint64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

// checkStatuses waits (30 s at most) until the last state the forge got
// for each task on its repository is the task's final status, and fails
// with the ones it did not get.
func checkStatuses(t *testing.T, forge *fakeGitHub, tasks []apiTask) {
	t.Helper()
	var missing []string
	checked := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		missing, checked = missing[:0], 0
		for _, tk := range tasks {
			if !slices.Contains(pushTemplates, tk.Template) || tk.Commit == "" {
				continue // not on the forge's repository, or interrupted before its commit was known
			}
			checked++
			got := forge.states(tk.Commit, "semaphored/busy/"+tk.Template)
			if want := commitState(tk.Status); len(got) == 0 || got[len(got)-1] != want {
				missing = append(missing, fmt.Sprintf("task %d (%s at %.12s): posted %v, want last %s", tk.ID, tk.Status, tk.Commit, got, want))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("after 30s, final statuses missing at the forge:\n%s", strings.Join(missing, "\n"))
	}
	t.Logf("final statuses of %d tasks checked at the forge", checked)
	if checked == 0 {
		t.Error("no task ran on the forge's repository: no status was checked")
	}
	forge.mu.Lock()
	defer forge.mu.Unlock()
	if forge.rejected > 0 {
		t.Errorf("the forge refused %d statuses for their token", forge.rejected)
	}
}

// requireForgeParts fails unless this daemon takes forge webhooks (an
// unsigned delivery is refused, not unknown) and posts commit statuses
// (the outbox worker's metrics are there): the rounds need both.
func requireForgeParts(t *testing.T, d *daemon) {
	t.Helper()
	probe, err := http.Post(d.url+"/hooks/github", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	probe.Body.Close()
	if probe.StatusCode == http.StatusNotFound {
		t.Fatal("POST /hooks/github answers 404: the daemon does not take webhooks")
	}
	resp, err := http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(body, []byte("semaphored_outbox_delivered_total")) {
		t.Fatal("no semaphored_outbox_delivered_total in /metrics: the daemon does not deliver commit statuses")
	}
}

// push sends the deliveries one after another, 60 ms apart, until ctx ends
// or the daemon stops answering, and records the acknowledged ones (an
// answer naming their tasks).
func (r *busyRun) push(ctx context.Context, d *daemon, secret string, deliveries []delivery, wg *sync.WaitGroup) {
	defer wg.Done()
	for _, dv := range deliveries {
		code, ids, err := deliverPush(ctx, d.url, secret, dv)
		if err != nil || (code != http.StatusOK && code != http.StatusCreated) {
			return
		}
		r.mu.Lock()
		r.delivered[dv.id] = ids
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(60 * time.Millisecond):
		}
	}
}

// TestFaultSecondDaemon starts a second daemon on the data directory of a
// running one: it must exit at once (well under the state file's 1 s lock
// timeout) with status 1 and a message naming the directory, and the first
// must go on serving and running tasks, including one it was running.
func TestFaultSecondDaemon(t *testing.T) {
	cfg := configDir(t, busyFiles())
	d := startDaemon(t, cfg, "", "--log-level", "info")
	running := d.create("busy", "chatty", "{}")
	testenv.WaitFor(t, "the chatty task to print", 10*time.Second, func() bool {
		_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", running))
		return strings.Contains(log, "chatty line 1\n")
	})

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"same config", []string{"--config", cfg}},
		{"bundled quickstart", nil}, // would rewrite DATA/quickstart before the state lock
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"serve", "--data", d.data, "--listen", "127.0.0.1:0"}, tc.args...)
			cmd := exec.CommandContext(ctx, semaphoredBinary(t), args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("second daemon: %v, want exit status 1\n%s", err, stderr.String())
			}
			if took > 500*time.Millisecond {
				t.Errorf("second daemon took %s to exit, want well under the state lock timeout (1 s)", took)
			}
			msg := stderr.String()
			if !strings.Contains(msg, d.data) || !strings.Contains(msg, "in use") || !strings.Contains(msg, fmt.Sprintf("pid %d", d.cmd.Process.Pid)) {
				t.Errorf("second daemon's message should name the data directory and the holder:\n%s", msg)
			}
			t.Logf("second daemon exited in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(msg))
		})
	}
	if _, err := os.Stat(filepath.Join(d.data, "quickstart")); !os.IsNotExist(err) {
		t.Errorf("the second daemon wrote the bundled quickstart into the first one's data directory: %v", err)
	}

	// The first is unaffected: it answers, finishes what it ran, runs more.
	if code, body := d.get("/healthz"); code != 200 {
		t.Fatalf("/healthz after the second daemon: %d %q", code, body)
	}
	d.waitSuccess(running, 20*time.Second)
	d.waitSuccess(d.create("busy", "quick", "{}"), 20*time.Second)
	_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", running))
	if n := strings.Count(log, "chatty line"); n != chattyLines {
		t.Errorf("the running task's log has %d of %d lines:\n%s", n, chattyLines, log)
	}
	select {
	case err := <-d.exited:
		t.Fatalf("the first daemon exited: %v", err)
	default:
	}
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	checkState(t, d.data)
}

// scrapeMetric returns the value of the series of /metrics whose line
// starts with series (name and labels as exposed), and whether it is there.
func scrapeMetric(t *testing.T, d *daemon, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// flakyServer serves a handler on a fixed loopback address that the test
// can make answer 500, take down (connection refused) and bring back.
type flakyServer struct {
	t     *testing.T
	addr  string
	inner http.Handler

	mu   sync.Mutex
	mode string // "up", "500" or "down"
	srv  *http.Server
	hits map[string]int // mode → requests answered in it
}

func newFlakyServer(t *testing.T, inner http.Handler) *flakyServer {
	f := &flakyServer{t: t, inner: inner, mode: "up", hits: map[string]int{}}
	f.listen("127.0.0.1:0")
	t.Cleanup(func() { f.set("down") })
	return f
}

func (f *flakyServer) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		mode := f.mode
		f.hits[mode]++
		f.mu.Unlock()
		if mode == "500" {
			http.Error(w, "the forge is having a bad day", http.StatusInternalServerError)
			return
		}
		f.inner.ServeHTTP(w, r)
	})}
	go f.srv.Serve(ln)
}

// set switches the mode; "down" closes the listener, and leaving "down"
// listens again on the same address.
func (f *flakyServer) set(mode string) {
	f.mu.Lock()
	was := f.mode
	f.mode = mode
	f.mu.Unlock()
	switch {
	case mode == "down" && was != "down":
		f.srv.Close()
	case mode != "down" && was == "down":
		f.listen(f.addr)
	}
}

func (f *flakyServer) answered(mode string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[mode]
}

// readyRevision returns the revision /readyz names, failing unless it
// answers 200.
func readyRevision(t *testing.T, d *daemon) string {
	t.Helper()
	code, body := d.get("/readyz")
	rev, ok := strings.CutPrefix(strings.TrimSpace(body), "ready: revision ")
	if code != http.StatusOK || !ok {
		t.Fatalf("/readyz: %d %q, want 200 and the active revision", code, body)
	}
	return rev
}

// TestFaultConfigRepoUnreachable serves the config repository over git's
// smart HTTP (the real git-http-backend), then makes it answer 500, then
// takes it down, with a kill -9 and restart of the daemon in the middle of
// the outage, and brings it back with a new commit. Throughout the outage
// the daemon keeps the last good revision, /readyz stays ready, tasks run,
// and the failure shows in semaphored_config_syncs_total{result="error"}
// and the log; when the repository returns, the new commit is applied.
func TestFaultConfigRepoUnreachable(t *testing.T) {
	repo, first := testenv.GitRepo(t, busyFiles())
	git := newFlakyServer(t, testenv.GitHTTPHandler(t, filepath.Dir(repo)))
	url := "http://" + git.addr + "/" + filepath.Base(repo)
	d := startDaemon(t, url, "", "--poll", "100ms", "--log-level", "info")
	if rev := readyRevision(t, d); !strings.Contains(rev, first[:12]) {
		t.Fatalf("active revision %q, want commit %s", rev, first)
	}
	errors0, _ := scrapeMetric(t, d, `semaphored_config_syncs_total{result="error"}`)

	for _, mode := range []string{"500", "down"} {
		git.set(mode)
		// A commit the daemon cannot see yet.
		testenv.GitCommit(t, repo, map[string]string{"late.yaml": "project: late\nrepositories:\n  here:\n    url: .\ntemplates:\n  hello:\n    app: bash\n    repository: here\n    script: quick.sh\n"}, "add project late while the server is "+mode)
		testenv.WaitFor(t, "sync errors while the server is "+mode, 10*time.Second, func() bool {
			n, _ := scrapeMetric(t, d, `semaphored_config_syncs_total{result="error"}`)
			return n >= errors0+2
		})
		errors0, _ = scrapeMetric(t, d, `semaphored_config_syncs_total{result="error"}`)
		if rev := readyRevision(t, d); !strings.Contains(rev, first[:12]) {
			t.Fatalf("server %s: active revision %q, want still %s", mode, rev, first)
		}
		if !strings.Contains(d.logs.String(), "config sync failed; the active revision stays") {
			t.Fatalf("server %s: no log line says the config source fails", mode)
		}
		d.waitSuccess(d.create("busy", "quick", "{}"), 20*time.Second)
		if code, _ := d.get("/api/v1/projects/late/templates"); code != http.StatusNotFound {
			t.Fatalf("server %s: project late is visible (%d) though its commit could not be fetched", mode, code)
		}
		if mode == "500" && git.answered("500") == 0 {
			t.Fatal("the server answered no request with 500: the test did not test")
		}
		if mode == "down" {
			// A crash during the outage: the restarted daemon runs on the
			// last good revision from its state.
			data := d.data
			d.kill(syscall.SIGKILL)
			d = startDaemon(t, url, data, "--poll", "100ms", "--log-level", "info")
			if rev := readyRevision(t, d); !strings.Contains(rev, first[:12]) {
				t.Fatalf("restart while the server is down: active revision %q, want %s", rev, first)
			}
			d.waitSuccess(d.create("busy", "quick", "{}"), 20*time.Second)
		}
	}

	git.set("up")
	testenv.WaitFor(t, "the new commit to be applied", 15*time.Second, func() bool {
		code, _ := d.get("/api/v1/projects/late/templates")
		return code == http.StatusOK
	})
	last := testenv.Git(t, repo, "rev-parse", "HEAD")
	if rev := readyRevision(t, d); !strings.Contains(rev, last[:12]) {
		t.Fatalf("after the server returned: active revision %q, want %s", rev, last)
	}
	d.waitSuccess(d.create("late", "hello", "{}"), 20*time.Second)
	if v, ok := scrapeMetric(t, d, "semaphored_config_last_revision_valid"); !ok || v != 1 {
		t.Errorf("semaphored_config_last_revision_valid = %v (%v), want 1", v, ok)
	}
}

const diskConfig = `project: disk
repositories:
  here:
    url: .
templates:
  flood:
    app: bash
    repository: here
    script: flood.sh
  quick:
    app: bash
    repository: here
    script: quick.sh
`

// smallDisk returns a directory of at most size bytes: a tmpfs mounted
// for the test when it runs as root and mount(2) works (unmounted at the
// end), else a plain directory with limit set to apply the size as the
// daemon's RLIMIT_FSIZE (writes past it fail with EFBIG: the same failed
// write for the store, without a filesystem of its own).
func smallDisk(t *testing.T, size int64) (dir string, limit func(pid int)) {
	t.Helper()
	dir = t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if err == nil {
		t.Cleanup(func() {
			if err := syscall.Unmount(dir, 0); err != nil {
				syscall.Unmount(dir, syscall.MNT_DETACH)
			}
		})
		t.Logf("data on a %d MiB tmpfs", size>>20)
		return dir, func(int) {}
	}
	t.Logf("cannot mount a tmpfs (%v): limiting the daemon's file size to %d MiB instead", err, size>>20)
	return dir, func(pid int) {
		lim := unix.Rlimit{Cur: uint64(size), Max: uint64(size)}
		if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
			t.Fatalf("prlimit: %v", err)
		}
	}
}

// TestFaultDiskFull fills the data directory's disk with a task's log (a
// 16 MiB tmpfs, a task printing 200 MB). The task fails with the reason;
// the daemon keeps serving (/healthz, the API, other tasks); after a
// restart with space freed the state file passes bbolt's consistency
// check, the failed task is there with its reason and the log lines it
// stored, and new tasks run.
func TestFaultDiskFull(t *testing.T) {
	disk, limit := smallDisk(t, 16<<20)
	data := filepath.Join(disk, "data")
	// Space the operator will free after the incident.
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, bytes.Repeat([]byte{'x'}, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configDir(t, map[string]string{
		"disk.yaml":     diskConfig,
		"flood.sh":      "echo flood starts\nyes \"$(printf 'flood %0120d' 0)\" | head -c 200000000\necho flood ends\n",
		"quick.sh":      "echo quick done\n",
		"settings.yaml": "settings:\n  max_log_bytes: 190MiB\n",
	})
	d := startDaemon(t, cfg, data, "--log-level", "info")
	limit(d.cmd.Process.Pid)
	flood := d.create("disk", "flood", "{}")
	var tk apiTask
	testenv.WaitFor(t, "the flooding task to end", 60*time.Second, func() bool {
		_, body := d.get(fmt.Sprintf("/api/v1/tasks/%d", flood))
		json.Unmarshal([]byte(body), &tk)
		return terminal(tk.Status)
	})
	t.Logf("flooding task: %s: %s", tk.Status, tk.Message)
	if tk.Status != "error" && tk.Status != "failure" {
		t.Fatalf("flooding task ended %s (%s), want a failure with the reason", tk.Status, tk.Message)
	}
	if !strings.Contains(tk.Message, "no space left on device") && !strings.Contains(tk.Message, "file too large") {
		t.Errorf("flooding task's message %q does not give the reason (no space left on device)", tk.Message)
	}
	// The daemon serves on: probes, reads, and writes that fit.
	if code, _ := d.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with a full disk: %d", code)
	}
	if code, _ := d.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with a full disk: %d", code)
	}
	if code, body := d.get("/api/v1/tasks"); code != http.StatusOK || !strings.Contains(body, `"flood"`) {
		t.Errorf("task list with a full disk: %d %s", code, body)
	}
	_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", flood))
	if !strings.Contains(log, "flood starts\n") || !strings.Contains(log, "flood 000") {
		t.Errorf("the flooding task's stored lines are gone: %.300q", log)
	}
	select {
	case err := <-d.exited:
		t.Fatalf("the daemon exited on a full disk: %v", err)
	default:
	}

	// The operator frees space and restarts the daemon.
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Errorf("stop with a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	checkState(t, data)
	d = startDaemon(t, cfg, data, "--log-level", "info")
	limit(d.cmd.Process.Pid)
	_, body := d.get(fmt.Sprintf("/api/v1/tasks/%d", flood))
	var after apiTask
	json.Unmarshal([]byte(body), &after)
	if after.Status != tk.Status || after.Message != tk.Message {
		t.Errorf("after the restart the flooding task is %s (%s), was %s (%s)", after.Status, after.Message, tk.Status, tk.Message)
	}
	if _, again := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", flood)); !strings.HasPrefix(again, log) {
		t.Errorf("after the restart the flooding task's log lost lines: %d bytes, had %d", len(again), len(log))
	}
	d.waitSuccess(d.create("disk", "quick", "{}"), 20*time.Second)
}
