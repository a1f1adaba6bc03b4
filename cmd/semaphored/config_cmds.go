package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/sync"
)

const validateUsage = `Usage: semaphored validate [SRC|FILE] [flags]

Checks a config tree: exit 0 when valid, 1 with one "file:line:col: message"
line per problem. SRC is a directory or a git URL; without it, validate
reads what serve would serve: --config or $SEMAPHORED_CONFIG, else the
quickstart bundled into the binary. A FILE is checked alone: references to
objects declared in other files are reported as missing.
`

const planUsage = `Usage: semaphored plan [SRC] [flags]

Prints what a sync of SRC would create, change and prune in the state of
--data, without applying it. SRC defaults as for validate: --config or
$SEMAPHORED_CONFIG, else the bundled quickstart.
`

// cmdValidate loads and checks a config tree or a single file: exit 0 when
// valid, 1 with one "file:line:col: message" line per problem on stdout.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	src := addSourceFlags(fs, "")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), validateUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("want at most one SRC or FILE, got %d arguments", len(pos))
	}
	if len(pos) == 1 && !isGitURL(pos[0]) {
		if fi, err := os.Stat(pos[0]); err == nil && fi.Mode().IsRegular() {
			return validateFile(pos[0], stdout)
		}
	}
	s, name, done, err := configSource(fs, src, pos, "validating", stderr)
	if err != nil {
		return err
	}
	defer done()
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	tree, err := s.Open(ctx, head)
	if err != nil {
		return err
	}
	cfg, err := config.Load(tree.Root, config.LoadOptions{})
	if err != nil {
		fmt.Fprintln(stdout, strings.TrimRight(err.Error(), "\n"))
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s: valid (%s)\n", name, counts(cfg))
	return nil
}

// validateFile checks one declaration file on its own.
func validateFile(path string, stdout io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if why := config.NotDeclaration(b); why != "" {
		fmt.Fprintf(stdout, "%s: not a declaration, serve skips it: %s\n", path, why)
		return nil
	}
	base := filepath.Base(path)
	cfg, err := config.LoadFile(base, b, config.LoadOptions{})
	if err != nil {
		// Problems are named by the file's base name; show the path given.
		for line := range strings.SplitSeq(strings.TrimRight(err.Error(), "\n"), "\n") {
			if rest, ok := strings.CutPrefix(line, base+":"); ok {
				line = path + ":" + rest
			}
			fmt.Fprintln(stdout, line)
		}
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s: valid (%s)\n", path, counts(cfg))
	return nil
}

// counts says how many projects and templates cfg declares.
func counts(cfg *config.Config) string {
	templates := 0
	for _, p := range cfg.Projects {
		templates += len(p.Templates)
	}
	return plural(len(cfg.Projects), "project") + ", " + plural(templates, "template")
}

// plural renders "1 project", "2 projects".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// cmdPlan prints what a sync would create, change and prune, without
// applying it. It reads the state file, which the daemon holds while it
// runs: plan against a stopped daemon's data or a copy of it.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", stderr)
	src := addSourceFlags(fs, "")
	data := stringFlag(fs, "data", "data", "state directory")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), planUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("want at most one SRC, got %d arguments", len(pos))
	}
	s, _, done, err := configSource(fs, src, pos, "planning", stderr)
	if err != nil {
		return err
	}
	defer done()
	var store sync.Store
	dbPath := filepath.Join(*data, "state.db")
	if _, err := os.Stat(dbPath); err == nil {
		st, err := state.Open(dbPath, state.Options{})
		if errors.Is(err, state.ErrLocked) {
			return fmt.Errorf("%w\nplan reads the state file, which the running daemon holds: stop it, or plan against a copy of its data directory", err)
		}
		if err != nil {
			return err
		}
		defer st.Close()
		store = st
	} else {
		fmt.Fprintf(stderr, "no state at %s: planning against an empty state\n", dbPath)
	}
	changes, stored, err := sync.Plan(ctx, s, store, config.LoadOptions{})
	if errors.Is(err, sync.ErrInvalid) {
		fmt.Fprintln(stdout, strings.TrimRight(err.Error(), "\n"))
		return exitError(1)
	}
	if err != nil {
		return err
	}
	return sync.WritePlan(stdout, changes, stored)
}

// configSource picks the config source of validate and plan: the one
// positional argument, else --config, else $SEMAPHORED_CONFIG, else the
// bundled quickstart (what serve would serve), says on stderr which one
// ("validating the bundled quickstart ..."), and returns it with a
// temporary git cache and the name to print; done removes them.
func configSource(fs *flag.FlagSet, src *sourceFlags, pos []string, verb string, stderr io.Writer) (s sync.Source, name string, done func(), err error) {
	flagSet := false
	fs.Visit(func(f *flag.Flag) { flagSet = flagSet || f.Name == "config" })
	tmp, err := os.MkdirTemp("", "semaphored-")
	if err != nil {
		return nil, "", nil, err
	}
	cache := gitcache.New(filepath.Join(tmp, "git"), gitcache.Options{})
	done = func() {
		cache.Close()
		os.RemoveAll(tmp)
	}
	switch {
	case len(pos) == 1:
		src.config = pos[0]
		name = pos[0]
	case flagSet:
		name = src.config
		fmt.Fprintf(stderr, "%s %s (from --config)\n", verb, name)
	case src.config != "":
		name = src.config
		fmt.Fprintf(stderr, "%s %s (from $SEMAPHORED_CONFIG)\n", verb, name)
	default:
		dir, err := extractQuickstart(tmp)
		if err != nil {
			done()
			return nil, "", nil, err
		}
		src.config, name = dir, "quickstart (bundled)"
		fmt.Fprintf(stderr, "%s the bundled quickstart, what serve runs without --config (give a SRC, --config or $SEMAPHORED_CONFIG for another)\n", verb)
	}
	if s, err = src.source(tmp, cache); err != nil {
		done()
		return nil, "", nil, err
	}
	return s, name, done, nil
}
