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

// cmdValidate loads and checks a config tree: exit 0 when valid, 1 with one
// "file:line:col: message" line per problem on stdout.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	src := addSourceFlags(fs, ".")
	s, done, err := configSource(fs, src, args, "usage: semaphored validate [SRC]", stderr)
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
	templates := 0
	for _, p := range cfg.Projects {
		templates += len(p.Templates)
	}
	fmt.Fprintf(stdout, "%s: valid (%d projects, %d templates)\n", src.config, len(cfg.Projects), templates)
	return nil
}

// cmdPlan prints what a sync would create, change and prune, without
// applying it. It reads the state file, which the daemon holds while it
// runs: plan against a stopped daemon's data or a copy of it.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", stderr)
	src := addSourceFlags(fs, ".")
	data := stringFlag(fs, "data", "data", "state directory")
	s, done, err := configSource(fs, src, args, "usage: semaphored plan [SRC] [--data DIR]", stderr)
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

// configSource parses the flags of validate and plan, takes SRC from the
// one optional positional argument, and returns the source with a
// temporary git cache; done removes it.
func configSource(fs *flag.FlagSet, src *sourceFlags, args []string, usage string, stderr io.Writer) (s sync.Source, done func(), err error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, errUsage
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, usage)
		return nil, nil, errUsage
	}
	if len(pos) == 1 {
		src.config = pos[0]
	}
	tmp, err := os.MkdirTemp("", "semaphored-")
	if err != nil {
		return nil, nil, err
	}
	cache := gitcache.New(filepath.Join(tmp, "git"), gitcache.Options{})
	done = func() {
		cache.Close()
		os.RemoveAll(tmp)
	}
	if s, err = src.source(tmp, cache); err != nil {
		done()
		return nil, nil, err
	}
	return s, done, nil
}
