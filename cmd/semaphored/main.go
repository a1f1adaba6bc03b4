// Command semaphored is the daemon and its command-line client. main only
// wires: every subcommand is a function of (ctx, args, stdout, stderr) that
// tests call directly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries an exit code for a failure already reported to the user.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a wrong invocation (an unknown flag, a missing or extra
// argument): exit code 2. An empty msg means the problem was already
// printed (by the flag package, with the command's flags).
type usageError struct{ msg string }

func (e usageError) Error() string {
	if e.msg == "" {
		return "usage"
	}
	return e.msg
}

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// errUsage is a usage error whose explanation is already printed.
var errUsage = usageError{}

// cmdError names the subcommand an error came from, so that its message
// reads "semaphored logs: ..." with the prefix written once, here.
type cmdError struct {
	cmd string
	err error
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// exitCode prints err on stderr when it was not printed yet and returns
// the process's exit code: 0 for success and for -h/--help, 2 for a usage
// error, 1 for a failure (or the code an exitError carries).
func exitCode(err error, stderr io.Writer) int {
	var (
		code  exitError
		usage usageError
		ce    *cmdError
	)
	prefix := "semaphored"
	if errors.As(err, &ce) {
		prefix += " " + ce.cmd
	}
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if usage.msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", prefix, usage.msg)
			if ce != nil {
				fmt.Fprintf(stderr, "Run 'semaphored %s -h' for its usage.\n", ce.cmd)
			}
		}
		return 2
	}
	msg := err.Error()
	if ce != nil {
		// The command's name is in the prefix: not twice.
		msg = strings.TrimPrefix(ce.err.Error(), ce.cmd+": ")
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
	return 1
}

const usage = `semaphored: a headless, GitOps-driven job daemon for Ansible, OpenTofu, Terraform, Bash and Python.

Usage:
  semaphored serve [--config SRC] [--data DIR] [--listen ADDR] [flags]   run the daemon
  semaphored validate [SRC|FILE]                                          check a config tree or one file
  semaphored plan [SRC] [--data DIR]                                      show what a sync would change
  semaphored import semaphore BACKUP.json --out DIR                       convert a Semaphore UI project backup
  semaphored backup [--data DIR] OUT                                      consistent copy of the state, also while the daemon runs
  semaphored restore BACKUP [--data DIR] [--force]                        check a backup and install it (daemon stopped)
  semaphored healthcheck [--listen ADDR]                                  exit 0 when the local daemon answers /healthz
  semaphored run PROJECT/TEMPLATE [--var k=v]... [--wait]                 queue a task on a running daemon
  semaphored tasks [--project P] [--template T] [--status S]              list tasks
  semaphored logs ID [-f]                                                 print or follow a task's log
  semaphored stop ID | confirm ID | reject ID                             control a task
  semaphored events [-f] [--type T] [--project P] [--source S]            what webhooks, schedules and integrations did
  semaphored version                                                      print the version

Every flag also reads an environment variable: --data <-> SEMAPHORED_DATA, and so on.
Run 'semaphored COMMAND -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":    cmdServe,
		"validate": cmdValidate,
		"plan":     cmdPlan,
		"version":  cmdVersion,
		"run":      cmdRun,
		"tasks":    cmdTasks,
		"logs":     cmdLogs,
		"events":   cmdEvents,
		"stop":     cmdStop,
		"confirm":  cmdConfirm,
		"reject":   cmdReject,

		"import":      cmdImport,
		"backup":      cmdBackup,
		"restore":     cmdRestore,
		"healthcheck": cmdHealthcheck,
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "semaphored: unknown command %q\n\n%s", name, usage)
		return errUsage
	}
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		return &cmdError{cmd: name, err: err}
	}
	return nil
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: semaphored version\n\nPrints the version, the commit, the Go version and the platform of this binary.")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("takes no arguments, got %q", pos[0])
	}
	fmt.Fprintf(stdout, "semaphored %s (commit %s, %s, %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// envDefault returns the environment variable that backs a flag, or def.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// flagEnv is the environment variable behind a flag: --config-branch <->
// SEMAPHORED_CONFIG_BRANCH.
func flagEnv(flagName string) string {
	return "SEMAPHORED_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set whose usage goes to stderr and whose
// errors are returned, not fatal.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("semaphored "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// stringFlag defines a string flag backed by its environment variable.
func stringFlag(fs *flag.FlagSet, name, def, help string) *string {
	env := flagEnv(name)
	return fs.String(name, envDefault(env, def), help+" ($"+env+")")
}

// parseInterspersed parses flags that may come before or after positional
// arguments (`plan ./config --data d`) and returns the positionals. It
// prints the usage and returns flag.ErrHelp for -h/--help; for a bad flag
// it prints one line naming it (not the whole flag list) and returns
// errUsage.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	out := fs.Output()
	defer fs.SetOutput(out)
	for {
		fs.SetOutput(io.Discard)
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, flag.ErrHelp
			}
			fmt.Fprintf(out, "%s: %v\nRun '%s -h' for its usage.\n", fs.Name(), err, fs.Name())
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
