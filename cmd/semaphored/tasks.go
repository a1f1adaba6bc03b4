package main

// This file holds the client commands that talk to a running daemon over
// its HTTP API: run, tasks, logs, stop, confirm and reject. Each takes the
// common flags --server, --token and --data (see clientFlags).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/client"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, token, data *string
}

// addClientFlags defines --server, --token and --data on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	return &clientFlags{
		server: stringFlag(fs, "server", "http://127.0.0.1:8080", "URL of the semaphored daemon"),
		token:  stringFlag(fs, "token", "", "API token (prefer the environment variable: a flag shows in ps)"),
		data:   stringFlag(fs, "data", "data", "data directory of a local daemon; its admin.token is used when no token is given"),
	}
}

// client returns an API client for the flags: the token is --token, else
// $SEMAPHORED_TOKEN, else DATA/admin.token when it can be read.
func (c *clientFlags) client() (*client.Client, error) {
	tok := strings.TrimSpace(*c.token)
	if tok == "" {
		path := filepath.Join(*c.data, api.AdminTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			if pe := (*os.PathError)(nil); errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("no API token: pass --token, set SEMAPHORED_TOKEN, or point --data at a daemon's data directory (%s: %v)", path, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	return client.New(*c.server, tok, nil).AsCLI(), nil
}

// explain turns an error of a call to the daemon into a sentence for a
// person: the daemon's own message for an answer it gave, a hint for a
// refused token or an unreachable daemon; no HTTP internals or Go error
// chains.
func (c *clientFlags) explain(err error) error {
	var ae *client.Error
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("the daemon at %s refused the token (401): pass --token, set SEMAPHORED_TOKEN, or point --data at the daemon's data directory", *c.server)
		case http.StatusForbidden:
			return fmt.Errorf("the token may not do this (403): %s", ae.Message)
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
			return errors.New(ae.Message)
		}
		return fmt.Errorf("the daemon answered %d %s: %s", ae.Status, http.StatusText(ae.Status), ae.Message)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach the daemon at %s (connection refused): is 'semaphored serve' running there? (--server, $SEMAPHORED_SERVER)", *c.server)
	case errors.As(err, &ue):
		return fmt.Errorf("cannot reach the daemon at %s: %v", *c.server, ue.Err)
	}
	return err
}

// errInterrupted ends a command the user interrupted (Ctrl-C) after it
// said so: exit code 130, as a shell reports SIGINT.
const errInterrupted = exitError(130)

// parseTaskID parses the one positional argument of a task command.
func parseTaskID(pos []string) (uint64, error) {
	switch {
	case len(pos) == 0:
		return 0, usagef("want a task ID")
	case len(pos) > 1:
		return 0, usagef("want one task ID, got %d arguments", len(pos))
	}
	id, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not a task ID (a number from 1 up)", pos[0])
	}
	return id, nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseVars merges --vars-json (an object) and the --var k=v pairs, the
// latter winning. A --var value is JSON when it parses as JSON ("3",
// "true", "[1,2]", "{\"a\":1}", "\"quoted\""), else the string as given.
func parseVars(varsJSON string, pairs []string) (map[string]any, error) {
	vars := map[string]any{}
	if varsJSON != "" {
		dec := json.NewDecoder(strings.NewReader(varsJSON))
		dec.UseNumber()
		if err := dec.Decode(&vars); err != nil {
			return nil, fmt.Errorf("--vars-json: want a JSON object: %w", err)
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: want NAME=VALUE", p)
		}
		vars[k] = jsonOrString(v)
	}
	if len(vars) == 0 {
		return nil, nil
	}
	return vars, nil
}

// jsonOrString returns v decoded as one JSON value, or v itself.
func jsonOrString(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return v
	}
	if _, err := dec.Token(); err != io.EOF {
		return v // "1 2" is not one JSON value
	}
	return out
}

// cmdRun queues a task: run PROJECT/TEMPLATE [flags]. It prints the task
// ID on stdout; with --wait it follows the log to stdout instead, prints
// the final status on stderr and fails unless the task succeeded.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	cf := addClientFlags(fs)
	var vars, arguments listFlag
	fs.Var(&vars, "var", "an extra var NAME=VALUE (VALUE is JSON when it parses, else a string); repeatable")
	varsJSON := fs.String("vars-json", "", "extra vars as a JSON object (--var wins)")
	fs.Var(&arguments, "arg", "an extra argument for the app; repeatable")
	commit := fs.String("commit", "", "commit SHA to run at")
	branch := fs.String("branch", "", "branch to run (its head when no --commit)")
	limit := fs.String("limit", "", "ansible --limit")
	tags := fs.String("tags", "", "ansible tags, comma-separated")
	skipTags := fs.String("skip-tags", "", "ansible tags to skip, comma-separated")
	workspace := fs.String("workspace", "", "terraform/tofu workspace")
	dryRun := fs.Bool("dry-run", false, "check/plan mode: never apply")
	wait := fs.Bool("wait", false, "follow the log and exit 0 only when the task succeeds")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: semaphored run PROJECT/TEMPLATE [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		return usagef("want PROJECT/TEMPLATE")
	case 1:
	default:
		return usagef("want one PROJECT/TEMPLATE, got %d arguments", len(pos))
	}
	project, template, ok := strings.Cut(pos[0], "/")
	if !ok || project == "" || template == "" || strings.Contains(template, "/") {
		return usagef("%q: want PROJECT/TEMPLATE", pos[0])
	}
	v, err := parseVars(*varsJSON, vars)
	if err != nil {
		return usageError{msg: err.Error()}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	task, err := c.CreateTask(ctx, project, template, api.CreateTaskRequest{Overrides: task.Overrides{
		Commit: *commit, Branch: *branch, Vars: v, Arguments: arguments, Limit: *limit,
		Tags: splitList(*tags), SkipTags: splitList(*skipTags), Workspace: *workspace, DryRun: *dryRun,
	}})
	if err != nil {
		return cf.explain(err)
	}
	if !*wait {
		fmt.Fprintf(stderr, "task %d queued (%s/%s)\n", task.ID, task.Project, task.Template)
		fmt.Fprintln(stdout, task.ID)
		return nil
	}
	fmt.Fprintf(stderr, "task %d queued (%s/%s), following its log\n", task.ID, task.Project, task.Template)
	return waitTask(ctx, c, cf, task.ID, stdout, stderr)
}

// waitTask follows a task's log to stdout until it ends, prints its final
// status on stderr, and returns exitError(1) unless it succeeded. While it
// follows, a plan that waits for confirmation is announced on stderr with
// the commands that decide it; the log goes on being followed.
func waitTask(ctx context.Context, c *client.Client, cf *clientFlags, id uint64, stdout, stderr io.Writer) error {
	fctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchConfirmation(fctx, c, id, stderr)
	}()
	tail := &tailWriter{w: stdout}
	err := c.Log(fctx, id, true, tail)
	cancel()
	<-watched
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "stopped waiting; task %d goes on (semaphored stop %d stops it)\n", id, id)
			return errInterrupted
		}
		return fmt.Errorf("follow task %d: %w", id, cf.explain(err))
	}
	task, err := c.Task(ctx, id)
	// The log ends when the task is terminal; poll briefly in case the
	// stream was ended by something else (a proxy closing it cleanly).
	for backoff := 100 * time.Millisecond; err == nil && !task.Status.Terminal(); backoff = min(2*backoff, 2*time.Second) {
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "stopped waiting; task %d goes on (semaphored stop %d stops it)\n", id, id)
			return errInterrupted
		case <-time.After(backoff):
		}
		task, err = c.Task(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("task %d: %w", id, cf.explain(err))
	}
	msg := fmt.Sprintf("task %d %s", id, task.Status)
	if task.ExitCode >= 0 && task.Status != state.StatusSuccess {
		msg += fmt.Sprintf(" (exit code %d)", task.ExitCode)
	}
	// A prepare error is the log's last line already: print it once.
	if task.Message != "" && !tail.holds(strings.TrimPrefix(task.Message, "prepare: ")) {
		msg += ": " + task.Message
	}
	fmt.Fprintln(stderr, msg)
	if task.Status != state.StatusSuccess {
		return exitError(1)
	}
	return nil
}

// How often run --wait looks at the task's status: often at first and
// after each change, less often while nothing changes.
const (
	confirmPollMin = 250 * time.Millisecond
	confirmPollMax = 2 * time.Second
)

// watchConfirmation polls task id until ctx ends, and each time it enters
// waiting_confirmation prints what decides it.
func watchConfirmation(ctx context.Context, c *client.Client, id uint64, stderr io.Writer) {
	told := false
	var last state.TaskStatus
	for poll := confirmPollMin; ; {
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
		t, err := c.Task(ctx, id)
		if err != nil {
			continue // the log follower reports an unreachable daemon
		}
		if t.Status != last {
			last, poll = t.Status, confirmPollMin
		} else {
			poll = min(poll*3/2, confirmPollMax)
		}
		waiting := t.Status == state.StatusWaitingConfirmation
		if waiting && !told {
			fmt.Fprintf(stderr, "task %d is waiting for confirmation: review the plan above, then run\n"+
				"  semaphored confirm %d   to apply it\n"+
				"  semaphored reject %d    to discard it\n"+
				"(still following; Ctrl-C stops waiting, not the task)\n", id, id, id)
		}
		told = waiting
		if t.Status.Terminal() {
			return
		}
	}
}

// tailWriter passes writes on to w and keeps the last bytes written, to
// tell whether a message is already on screen.
type tailWriter struct {
	w    io.Writer
	mu   sync.Mutex
	tail []byte
}

const tailKeep = 8 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - tailKeep; over > 0 {
		t.tail = t.tail[over:]
	}
	t.mu.Unlock()
	return t.w.Write(p)
}

// holds reports whether s is among the last bytes written.
func (t *tailWriter) holds(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s != "" && bytes.Contains(t.tail, []byte(s))
}

// cmdTasks lists tasks, newest first: tasks [--project P] [--template T]
// [--status S[,S]] [--limit N] [--json].
func cmdTasks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tasks", stderr)
	cf := addClientFlags(fs)
	project := fs.String("project", "", "only this project")
	template := fs.String("template", "", "only this template")
	status := fs.String("status", "", "only these statuses, comma-separated: "+strings.Join(statusNames(), ", "))
	limit := fs.Int("limit", api.DefaultPageSize, "how many tasks to show")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: semaphored tasks [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *limit < 1 {
		return usagef("--limit %d: want at least 1", *limit)
	}
	f := state.TaskFilter{Project: *project, Template: *template}
	for _, s := range splitList(*status) {
		if !slices.Contains(statusNames(), s) {
			return usagef("--status %q: not a task status; valid: %s", s, strings.Join(statusNames(), ", "))
		}
		f.Status = append(f.Status, state.TaskStatus(s))
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var tasks []api.Task
	for before := uint64(0); len(tasks) < *limit; {
		page, next, err := c.Tasks(ctx, f, before, min(*limit-len(tasks), api.MaxPageSize))
		if err != nil {
			return cf.explain(err)
		}
		tasks = append(tasks, page...)
		if next == 0 || len(page) == 0 {
			break
		}
		before = next
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if tasks == nil {
			tasks = []api.Task{}
		}
		return enc.Encode(tasks)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROJECT\tTEMPLATE\tSTATUS\tTRIGGER\tCOMMIT\tCREATED\tDURATION")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Project, t.Template, t.Status, t.Trigger,
			shortCommit(t.Commit), t.Created.Local().Format("2006-01-02 15:04:05"), duration(t))
	}
	return tw.Flush()
}

func shortCommit(c string) string {
	if c == "" {
		return "-"
	}
	return c[:min(len(c), 12)]
}

// duration is how long a task ran (so far), or "-" before it started.
func duration(t api.Task) string {
	if t.Started.IsZero() {
		return "-"
	}
	end := t.Ended
	if end.IsZero() {
		end = time.Now()
	}
	return humanDuration(end.Sub(t.Started))
}

// humanDuration shows d briefly: milliseconds under a second ("350ms"),
// tenths of a second under a minute ("12.3s"), whole seconds above
// ("4m2s").
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// statusNames are the task statuses, in their life's order.
func statusNames() []string {
	return []string{
		string(state.StatusWaiting), string(state.StatusStarting), string(state.StatusRunning),
		string(state.StatusWaitingConfirmation), string(state.StatusSuccess), string(state.StatusFailure),
		string(state.StatusError), string(state.StatusStopped), string(state.StatusInterrupted),
	}
}

// cmdLogs prints a task's log, or follows it until the task ends with -f:
// logs ID [-f].
func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logs", stderr)
	cf := addClientFlags(fs)
	follow := fs.Bool("f", false, "follow the log until the task ends")
	fs.BoolVar(follow, "follow", false, "same as -f")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: semaphored logs ID [-f] [flags]")
		fs.PrintDefaults()
	}
	id, c, err := taskArgs(fs, cf, args)
	if err != nil {
		return err
	}
	if err := c.Log(ctx, id, *follow, stdout); err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return cf.explain(err)
	}
	return nil
}

// cmdStop stops a task: stop ID.
func cmdStop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return taskCommand(ctx, "stop", args, stdout, stderr, (*client.Client).Stop)
}

// cmdConfirm approves a plan waiting for confirmation: confirm ID.
func cmdConfirm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return taskCommand(ctx, "confirm", args, stdout, stderr, (*client.Client).Confirm)
}

// cmdReject refuses a plan waiting for confirmation: reject ID.
func cmdReject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return taskCommand(ctx, "reject", args, stdout, stderr, (*client.Client).Reject)
}

// taskCommand runs one action on one task and prints its new status.
func taskCommand(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	fn func(*client.Client, context.Context, uint64) (api.Task, error)) error {
	fs := newFlagSet(name, stderr)
	cf := addClientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: semaphored %s ID [flags]\n", name)
		fs.PrintDefaults()
	}
	id, c, err := taskArgs(fs, cf, args)
	if err != nil {
		return err
	}
	t, err := fn(c, ctx, id)
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		// Say why from the task itself, not from the server's error chain.
		if cur, gerr := c.Task(ctx, id); gerr == nil {
			switch {
			case cur.Status.Terminal():
				return fmt.Errorf("task %d has already ended (%s)", id, cur.Status)
			case name != "stop" && cur.Status != state.StatusWaitingConfirmation:
				return fmt.Errorf("task %d is not waiting for confirmation (it is %s)", id, cur.Status)
			}
		}
	}
	if err != nil {
		return cf.explain(err)
	}
	fmt.Fprintf(stdout, "task %d %s\n", t.ID, t.Status)
	return nil
}

// taskArgs parses the flags and the one task ID of a command about one
// task, and returns the ID and a client of the daemon.
func taskArgs(fs *flag.FlagSet, cf *clientFlags, args []string) (uint64, *client.Client, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 0, nil, err
	}
	id, err := parseTaskID(pos)
	if err != nil {
		return 0, nil, err
	}
	c, err := cf.client()
	if err != nil {
		return 0, nil, err
	}
	return id, c, nil
}
