package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/server"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/sync"
)

// cmdServe runs the daemon. Start-up order is chosen for speed: bind the
// listener (so /healthz answers at once), open the state, restore the last
// good config, then sync and run. Shutdown (SIGINT/SIGTERM) runs in reverse:
// the HTTP server stops accepting, the syncer stops, running tasks get the
// grace period, and the state file is closed last.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	src := addSourceFlags(fs, "")
	data := stringFlag(fs, "data", "data", "state directory: state.db, admin.token, work and cache directories")
	listen := stringFlag(fs, "listen", "127.0.0.1:8080", "HTTP listen address")
	publicURL := stringFlag(fs, "public-url", "", "URL people reach the daemon at, for links (default http://LISTEN)")
	poll := fs.Duration("poll", durationEnv("SEMAPHORED_POLL"), "config poll interval (default 1m for git; a directory is watched) ($SEMAPHORED_POLL)")
	ageIdentity := stringFlag(fs, "age-identity", "", "age identity file that decrypts {age: ...} secrets")
	logLevel := stringFlag(fs, "log-level", "info", "debug, info, warn or error")
	logFormat := stringFlag(fs, "log-format", "text", "text or json")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	release, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer release()
	if *publicURL == "" {
		*publicURL = "http://" + *listen
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	// Serve /healthz at once; /readyz says ready once a revision is active,
	// and the API is mounted when it exists.
	var syncer atomic.Pointer[sync.Syncer]
	var apiHandler atomic.Pointer[api.Handler]
	srv := server.New(server.Options{
		Listener: ln,
		Logger:   logger.With("component", "http"),
		Gatherer: reg,
		Ready: func() (bool, string) {
			if s := syncer.Load(); s != nil {
				if a := s.Active(); a != nil {
					return true, "ready: revision " + a.Revision.ID
				}
			}
			return false, "not ready: no config revision is active yet"
		},
		OnShutdown: func() {
			if h := apiHandler.Load(); h != nil {
				h.CloseStreams()
			}
		},
	})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error {
		err := serveDaemon(gctx, daemonOptions{
			data: *data, src: src, poll: *poll, ageIdentity: *ageIdentity, publicURL: *publicURL,
			logger: logger, reg: reg, srv: srv, syncer: &syncer, api: &apiHandler,
		})
		if err != nil && gctx.Err() == nil {
			return err
		}
		return nil
	})
	err = g.Wait()
	if err == nil || errors.Is(err, context.Canceled) { // a daemon that could not start did not stop
		logger.Info("semaphored stopped")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

type daemonOptions struct {
	data, ageIdentity, publicURL string
	src                          *sourceFlags
	poll                         time.Duration
	logger                       *slog.Logger
	reg                          *prometheus.Registry
	srv                          *server.Server
	syncer                       *atomic.Pointer[sync.Syncer]
	api                          *atomic.Pointer[api.Handler]
}

// serveDaemon opens the state, restores the last good config, mounts the
// API, and runs the syncer and the engine until ctx ends. An error cancels
// the whole daemon.
func serveDaemon(ctx context.Context, o daemonOptions) error {
	logger := o.logger
	// Absolute, because jobs get paths under it (TMPDIR, HOME, files) and
	// run in other directories.
	data, err := filepath.Abs(o.data)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	o.data = data
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	src := o.src
	if src.config == "" {
		dir, err := extractQuickstart(o.data)
		if err != nil {
			return err
		}
		src.config = dir
		logger.Info("no --config given: serving the bundled quickstart", "dir", dir)
	}
	// One cache for the config repository and the jobs' repositories: a
	// cache directory must have one owner.
	git := gitcache.New(filepath.Join(o.data, "git"), gitcache.Options{Logger: logger.With("component", "git")})
	defer git.Close()
	source, err := src.source(o.data, git)
	if err != nil {
		return err
	}
	if d, ok := source.(*sync.DirSource); ok && within(o.data, d.Dir) {
		return fmt.Errorf("the data directory %s is inside the config directory %s: the daemon would read its own task checkouts as declarations; put it elsewhere (--data)", o.data, d.Dir)
	}
	store, err := state.Open(filepath.Join(o.data, "state.db"), state.Options{Logger: logger.With("component", "state")})
	if err != nil {
		return err
	}
	defer store.Close()

	resolver := &config.Resolver{}
	if o.ageIdentity != "" {
		ids, err := config.LoadAgeIdentities(o.ageIdentity)
		if err != nil {
			return err
		}
		resolver.Identities = ids
	}

	var engine *exec.Engine
	syncer := sync.New(sync.Options{
		Source:     source,
		Store:      store,
		Poll:       o.poll,
		Logger:     logger.With("component", "sync"),
		Registerer: o.reg,
		OnApply:    func(*config.Config) { engine.Wake() },
	})
	if err := syncer.Restore(ctx); err != nil {
		return fmt.Errorf("restore the last good config: %w", err)
	}
	active := activeConfig{syncer}
	engine = exec.New(exec.Options{
		Store:      store,
		Config:     active,
		ConfigRoot: active.Root,
		Git:        git,
		Secrets:    resolver,
		WorkDir:    filepath.Join(o.data, "work"),
		Logger:     logger.With("component", "exec"),
		Registerer: o.reg,
	})
	h, err := newAPI(o.data, store, engine, active, resolver, logger, o.reg)
	if err != nil {
		return err
	}
	o.api.Store(h)
	o.srv.Handle("/api/v1/", h)
	o.syncer.Store(syncer)
	logger.Info("semaphored started", "version", version, "listen", o.srv.Addr(), "config", source.String(), "data", o.data,
		"admin_token_file", filepath.Join(o.data, api.AdminTokenFile), "public_url", o.publicURL)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return syncer.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	return g.Wait()
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// activeConfig adapts the syncer to what the engine and the API read.
type activeConfig struct{ s *sync.Syncer }

// Active returns the configuration in force, or nil before the first one.
func (a activeConfig) Active() *config.Config {
	if x := a.s.Active(); x != nil {
		return x.Config
	}
	return nil
}

// Root is what relative local repository paths resolve against.
func (a activeConfig) Root() string {
	if x := a.s.Active(); x != nil {
		return x.Base
	}
	return ""
}

func durationEnv(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "semaphored_build_info",
		Help: "Build information, as labels on a constant 1.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, buildCommit(), runtime.Version()).Set(1)
	return g
}

// newAPI builds the /api/v1/ handler with the admin token of DATA/admin.token
// (written with mode 0600 on first start).
func newAPI(data string, store *state.Store, engine *exec.Engine, active activeConfig, resolver *config.Resolver, logger *slog.Logger, reg prometheus.Registerer) (*api.Handler, error) {
	token, err := api.WriteAdminToken(data)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return api.New(api.Options{
		Engine:     engine,
		Store:      store,
		Config:     active,
		Secrets:    resolver,
		AdminToken: token,
		Logger:     logger.With("component", "api"),
		Registerer: reg,
	})
}
