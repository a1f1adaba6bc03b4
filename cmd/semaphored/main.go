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

func exitCode(err error, stderr io.Writer) int {
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "semaphored: %v\n", err)
	return 1
}

var errUsage = errors.New("usage")

const usage = `semaphored: a headless, GitOps-driven job daemon for Ansible, OpenTofu, Terraform, Bash and Python.

Usage:
  semaphored serve [--config SRC] [--data DIR] [--listen ADDR] [flags]   run the daemon
  semaphored validate [SRC]                                               check a config tree
  semaphored plan [SRC] [--data DIR]                                      show what a sync would change
  semaphored run PROJECT/TEMPLATE [--var k=v]... [--wait]                 queue a task on a running daemon
  semaphored tasks [--project P] [--template T] [--status S]              list tasks
  semaphored logs ID [-f]                                                 print or follow a task's log
  semaphored stop ID | confirm ID | reject ID                             control a task
  semaphored events [-f] [--type T] [--project P] [--source S]           what webhooks, schedules and integrations did
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
	return cmd(ctx, args[1:], stdout, stderr)
}

func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version takes no arguments")
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
// arguments (`plan ./config --data d`) and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
