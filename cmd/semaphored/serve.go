package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/housekeep"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/report"
	"github.com/semaphored/semaphored/internal/schedule"
	"github.com/semaphored/semaphored/internal/server"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/sync"
	"github.com/semaphored/semaphored/internal/web"
	"github.com/semaphored/semaphored/internal/webhook"
)

// errSecondSignal is the cause of the drain's end when a second SIGINT or
// SIGTERM came: stop running tasks now.
var errSecondSignal = errors.New("second stop signal")

// httpShutdownTimeout bounds the HTTP server's graceful shutdown. It is
// long on purpose: the shutdown order (see shutdown) keeps followed logs
// open while running tasks drain and closes them right after, so the
// server waits for bounded requests only; the supervisor's stop timeout
// is the real bound.
const httpShutdownTimeout = time.Hour

// cmdServe runs the daemon. Start-up order is chosen for speed: bind the
// listener (so /healthz answers at once), open the state, restore the last
// good config, then sync and run. Shutdown (SIGINT/SIGTERM) follows the
// order written in shutdown; a second signal stops running tasks at once.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	src := addSourceFlags(fs, "")
	data := stringFlag(fs, "data", "data", "state directory: state.db, admin.token, work and cache directories")
	listen := stringFlag(fs, "listen", "127.0.0.1:8080", "HTTP listen address")
	publicURL := stringFlag(fs, "public-url", "", "URL people reach the daemon at, for links (default http://LISTEN)")
	poll := fs.Duration("poll", durationEnv("SEMAPHORED_POLL"), "config poll interval (default 1m for git, 30s for a directory, which is also watched) ($SEMAPHORED_POLL)")
	ageIdentity := stringFlag(fs, "age-identity", "", "age identity file that decrypts {age: ...} secrets")
	logLevel := stringFlag(fs, "log-level", "info", "debug, info, warn or error")
	logFormat := stringFlag(fs, "log-format", "text", "text or json")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	release, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer release()
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	// Processes a job detaches from its process group are reparented to the
	// daemon, which reaps and ends them with their task.
	if err := runner.BecomeSubreaper(); err != nil {
		logger.Warn("not a child subreaper: detached job processes are still ended, init reaps them", "err", err)
	}
	stopNow, stopWatching := watchSecondSignal(logger)
	defer stopWatching()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if *publicURL == "" {
		// The bound address: with port 0 the kernel chose it, and links
		// in commit statuses must work.
		*publicURL = "http://" + ln.Addr().String()
	}
	reg := prom.NewRegistry()
	for _, c := range []prom.Collector{
		prom.NewGoCollector(),
		prom.NewProcessCollector(),
		buildInfo(),
	} {
		if err := reg.Register(c); err != nil {
			ln.Close()
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	// Serve /healthz at once; /readyz says ready once a revision is active,
	// and the API is mounted when it exists.
	var syncer atomic.Pointer[sync.Syncer]
	srv := server.New(server.Options{
		Listener: ln,
		Logger:   logger.With("component", "http"),
		Metrics:  reg,
		Ready: func() (bool, string) {
			if s := syncer.Load(); s != nil {
				if snap := s.Snapshot(); snap.Config != nil {
					return true, "ready: revision " + snap.Revision
				}
			}
			return false, "not ready: no config revision is active yet"
		},
		ShutdownTimeout: httpShutdownTimeout,
	})
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Run(httpCtx) }()
	waitHTTP := gosync.OnceValue(func() error { return <-httpDone })

	err = serveDaemon(ctx, daemonOptions{
		data: *data, src: src, poll: *poll, ageIdentity: *ageIdentity, publicURL: *publicURL,
		logger: logger, reg: reg, srv: srv, syncer: &syncer,
		stopHTTP: stopHTTP, waitHTTP: waitHTTP, stopNow: stopNow,
	})
	// serveDaemon waited for the server when it got as far as running;
	// on an early failure it is stopped here.
	stopHTTP()
	if herr := waitHTTP(); herr != nil && err == nil {
		err = herr
	}
	if err == nil || errors.Is(err, context.Canceled) { // a daemon that could not start did not stop
		logger.Info("semaphored stopped")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// watchSecondSignal returns a context cancelled (cause errSecondSignal)
// when a second SIGINT or SIGTERM arrives: the first one ended the
// daemon's context (main's signal.NotifyContext) and began the graceful
// shutdown; the second one cuts the drain short. stop releases the
// signals.
func watchSecondSignal(logger *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-done:
				return
			case s := <-sigs:
				if n++; n >= 2 {
					logger.Warn("second stop signal: stopping running tasks now", "signal", s.String())
					cancel(errSecondSignal)
					return
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

type daemonOptions struct {
	data, ageIdentity, publicURL string
	src                          *sourceFlags
	poll                         time.Duration
	logger                       *slog.Logger
	reg                          *prom.Registry
	srv                          *server.Server
	syncer                       *atomic.Pointer[sync.Syncer]
	// stopHTTP makes the server stop accepting; waitHTTP waits for its
	// end (requests in flight answered) and returns its error.
	stopHTTP func()
	waitHTTP func() error
	// stopNow ends with a second signal.
	stopNow context.Context
}

// components are the long-lived parts of a running daemon (see shutdown
// for the order they stop in).
type components struct {
	syncer *sync.Syncer
	engine *exec.Engine
	api    *api.Handler
	hooks  *webhook.Receiver
	// reporter delivers commit statuses and notifications; pages serves
	// the task pages (/tasks/).
	reporter *report.Worker
	pages    *web.Handler
	// producers create work or change the state on their own: config
	// sync, housekeeping, the webhook intake worker and the scheduler.
	// They run until the second step of the shutdown.
	producers []producer
}

// producer is a long-lived component that stops with the producers.
type producer struct {
	name string
	run  func(ctx context.Context) error
}

// serveDaemon opens the state, restores the last good config, mounts the
// API, runs the components until ctx ends or one of them fails, then
// shuts down in order. The state closes last, after the HTTP server
// answered every request in flight.
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
	source, err := src.open(o.data, git, true)
	if err != nil {
		return err
	}
	dirSource, _ := source.(*sync.DirSource)
	if dirSource != nil && within(o.data, dirSource.Dir) {
		return fmt.Errorf("the data directory %s is inside the config directory %s: the daemon would read its own task checkouts as declarations; put it elsewhere (--data)", o.data, dirSource.Dir)
	}
	// The reporter turns every task status change into outbox entries
	// (commit statuses, notifications) inside the change's transaction.
	reporter := report.NewReporter(nil)
	store, err := state.Open(filepath.Join(o.data, "state.db"), state.Options{
		Logger: logger.With("component", "state"),
		Outbox: reporter.OutboxFunc,
	})
	if err != nil {
		return err
	}
	// Last: after shutdown, when nothing can use the state any more.
	defer store.Close()

	resolver := &config.Resolver{}
	if o.ageIdentity != "" {
		ids, err := config.LoadAgeIdentities(o.ageIdentity)
		if err != nil {
			return err
		}
		resolver.Identities = ids
	}

	c, err := build(ctx, o, source, store, git, resolver, reporter)
	if err != nil {
		return err
	}
	if dirSource != nil {
		if _, err := os.Stat(dirSource.Dir); errors.Is(err, fs.ErrNotExist) {
			snap := c.syncer.Snapshot()
			if snap.Config == nil {
				return fmt.Errorf("config source %s: %w", dirSource.Dir, syscall.ENOENT)
			}
			logger.Warn("the config directory is missing; running on the last good revision until it comes back",
				"dir", dirSource.Dir, "revision", snap.Revision)
		}
	}
	o.srv.Handle("/api/v1/", c.api)
	// Webhooks authenticate with their own secrets, never API tokens.
	o.srv.Handle("/hooks/", c.hooks.Handler())
	o.srv.Handle("/tasks/", c.pages)
	o.syncer.Store(c.syncer)
	logger.Info("semaphored started", "version", version, "listen", o.srv.Addr(), "config", source.String(), "data", o.data,
		"admin_token_file", filepath.Join(o.data, api.AdminTokenFile), "public_url", o.publicURL)
	return runComponents(ctx, o, c)
}

// build creates the components on the restored config.
func build(ctx context.Context, o daemonOptions, source sync.Source, store *state.Store, git *gitcache.Cache, resolver *config.Resolver, reporter *report.Reporter) (*components, error) {
	logger := o.logger
	var syncer *sync.Syncer
	syncer, err := sync.New(sync.Options{
		Source:     source,
		Store:      store,
		Poll:       o.poll,
		Logger:     logger.With("component", "sync"),
		Registerer: o.reg,
		// A rejected revision: failure on its commit, on the forge of the
		// active config (a rejected revision's own settings are not
		// trusted).
		OnRejected: func(rev state.Revision) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := reporter.ConfigRejected(ctx, store, syncer.Snapshot(), rev.ID, rev.Errors); err != nil {
				logger.Warn("enqueue the config commit status", "revision", rev.ID, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if err := syncer.Restore(ctx); err != nil {
		return nil, fmt.Errorf("restore the last good config: %w", err)
	}
	engine, err := exec.New(exec.Options{
		Store:      store,
		Config:     syncer,
		Checkouts:  git,
		Secrets:    resolver,
		WorkDir:    filepath.Join(o.data, "work"),
		Logger:     logger.With("component", "exec"),
		Registerer: o.reg,
	})
	if err != nil {
		return nil, err
	}
	// A new revision may allow more tasks (limits, templates).
	syncer.Subscribe(func(config.Snapshot) { engine.Wake() })
	hk := housekeep.New(housekeep.Options{
		Store:  store,
		Policy: func() housekeep.Policy { return housekeep.PolicyOf(syncer.Snapshot().Config) },
		Logger: logger.With("component", "housekeep"),
	})
	h, err := newAPI(o.data, store, engine, syncer, resolver, logger, o.reg)
	if err != nil {
		return nil, err
	}
	hooks, err := webhook.New(webhook.Options{
		Store: store, Engine: engine, Snapshots: syncer, Sync: syncer, Differ: git, Secrets: resolver,
		Logger: logger.With("component", "webhook"), Registerer: o.reg,
	})
	if err != nil {
		return nil, err
	}
	sched, err := schedule.New(schedule.Options{Store: store, Queue: engine, Logger: logger.With("component", "schedule"), Registerer: o.reg})
	if err != nil {
		return nil, err
	}
	syncer.Subscribe(func(s config.Snapshot) { sched.Update(s.Config) })
	worker, pages, err := newReporting(o, store, engine, syncer, resolver, reporter, h)
	if err != nil {
		return nil, err
	}
	return &components{syncer: syncer, engine: engine, api: h, hooks: hooks, reporter: worker, pages: pages, producers: []producer{
		{"config sync", syncer.Run},
		{"housekeeping", hk.Run},
		{"webhook intake", hooks.Run},
		{"schedule", sched.Run},
	}}, nil
}

// runComponents runs the components until ctx ends or one fails, then shuts
// down. The first failure is returned.
func runComponents(ctx context.Context, o daemonOptions, c *components) error {
	// Each component gets its own context, ended by shutdown in order.
	producers, stopProducers := context.WithCancel(context.Background())
	defer stopProducers()
	engineCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	failed := make(chan error, len(c.producers)+2)
	done := func(name string, fn func() error) <-chan struct{} {
		ch := make(chan struct{})
		go func() {
			defer close(ch)
			if err := fn(); err != nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
		return ch
	}
	producersDone := make([]<-chan struct{}, len(c.producers))
	for i, p := range c.producers {
		producersDone[i] = done(p.name, func() error { return p.run(producers) })
	}
	engineDone := done("exec", func() error { return c.engine.Run(engineCtx) })
	reportCtx, stopReport := context.WithCancel(context.Background())
	defer stopReport()
	reportDone := done("report", func() error { return c.reporter.Run(reportCtx) })

	var err error
	select {
	case <-ctx.Done():
		o.logger.Info("stop requested: shutting down")
	case err = <-failed:
		o.logger.Error("a component failed: shutting down", "err", err)
	}
	shutdown(o, c, shutdownSteps{
		stopProducers: func() {
			stopProducers()
			for i, p := range c.producers {
				waitStopped(o.logger, p.name, producersDone[i])
			}
		},
		stopEngine: func() { stopEngine(); <-engineDone },
		stopReporter: func() {
			// Flush what is due (the final statuses of the tasks the
			// shutdown stopped) while the forges answer, a few seconds
			// at most; the rest waits in the outbox for the next start.
			fctx, cancel := context.WithTimeout(context.Background(), reporterFlushTimeout)
			if err := c.reporter.Drain(fctx); err != nil {
				o.logger.Warn("statuses left in the outbox for the next start", "err", err)
			}
			cancel()
			stopReport()
			<-reportDone
		},
	})
	if err == nil {
		select {
		case err = <-failed:
		default:
		}
	}
	return err
}

// producerStopTimeout bounds the wait for a producer to stop: a pass stuck
// on I/O must not hold the drain of running tasks.
const producerStopTimeout = 10 * time.Second

// waitStopped waits for a producer's end, producerStopTimeout at most.
func waitStopped(logger *slog.Logger, name string, done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(producerStopTimeout):
		logger.Error("a producer did not stop in time; shutting down without it", "component", name, "waited", producerStopTimeout)
	}
}

// shutdownSteps end the components run started.
type shutdownSteps struct {
	stopProducers, stopEngine, stopReporter func()
}

// shutdown stops the daemon in this order, each step after the previous
// one has finished:
//
//  1. HTTP stops accepting: no new connection; requests in flight go on
//     (a task submitted from now on is refused with 503).
//  2. Producers stop: config sync and housekeeping (later webhooks and
//     cron): nothing creates work any more.
//  3. Running tasks drain: nothing new starts (waiting tasks stay waiting
//     for the next start), running ones may finish within
//     settings.drain_timeout; then, or at a second signal, they are
//     stopped (SIGTERM, stop_grace_period, SIGKILL).
//  4. Streams end: followed logs, which saw their tasks end, are closed,
//     and the HTTP server finishes the requests still in flight.
//  5. The reporter flushes the due commit statuses and notifications
//     (reporterFlushTimeout at most) and stops.
//  6. The state closes, last (serveDaemon's defer), when nothing can use
//     it: a request never meets a closed database.
func shutdown(o daemonOptions, c *components, s shutdownSteps) {
	o.stopHTTP()
	s.stopProducers()
	drain := config.DefaultDrainTimeout
	if cfg := c.syncer.Snapshot().Config; cfg != nil {
		drain = time.Duration(cfg.Settings.DrainTimeout)
	}
	dctx, cancel := context.WithTimeoutCause(o.stopNow, drain, fmt.Errorf("drain_timeout %s passed", drain))
	c.engine.Shutdown(dctx)
	cancel()
	s.stopEngine()
	c.api.CloseStreams()
	c.pages.CloseStreams()
	if err := o.waitHTTP(); err != nil {
		o.logger.Error("http shutdown", "err", err)
	}
	s.stopReporter()
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
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

func buildInfo() prom.Collector {
	g := prom.NewGaugeVec(prom.GaugeOpts{
		Name: "semaphored_build_info",
		Help: "Build information, as labels on a constant 1.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, buildCommit(), runtime.Version()).Set(1)
	return g
}

// reporterFlushTimeout bounds the reporter's flush at shutdown.
const reporterFlushTimeout = 5 * time.Second

// newReporting builds the outbox worker (commit statuses, notifications)
// and the task page, with the signed-link key of DATA/link.key.
func newReporting(o daemonOptions, store *state.Store, engine *exec.Engine, syncer *sync.Syncer, resolver *config.Resolver,
	reporter *report.Reporter, h *api.Handler) (*report.Worker, *web.Handler, error) {
	reporter.SetConfig(syncer.Snapshot().Config)
	syncer.Subscribe(func(s config.Snapshot) {
		reporter.SetConfig(s.Config)
		// A revision that became active: success on its commit (when
		// settings.config_repo.forge is declared); a rejected one gets its
		// failure from the syncer's OnRejected.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reporter.ConfigActive(ctx, store, s); err != nil {
			o.logger.Warn("enqueue the config commit status", "revision", s.Revision, "err", err)
		}
	})
	key, err := link.LoadOrCreateKey(o.data)
	if err != nil {
		return nil, nil, err
	}
	signer, err := link.New(key, nil)
	if err != nil {
		return nil, nil, err
	}
	active := func() *config.Config { return syncer.Snapshot().Config }
	links := &report.Links{Signer: signer, PublicURL: o.publicURL, Expiry: func() time.Duration {
		if c := active(); c != nil {
			return time.Duration(c.Settings.Links.Expiry)
		}
		return 0
	}}
	hc := &http.Client{Timeout: forge.DefaultTimeout}
	worker, err := report.NewWorker(report.WorkerOptions{
		Outbox:     store,
		Logger:     o.logger.With("component", "report"),
		Registerer: o.reg,
		Senders: map[report.OutboxKind]report.Sender{
			report.KindCommitStatus: &report.StatusSender{Tasks: store, Secrets: resolver, Links: links, HTTPClient: hc},
			report.KindNotification: &report.NotificationSender{Tasks: store, Secrets: resolver, Links: links, HTTPClient: hc},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	reporter.OnEnqueue(worker.Wake)
	// The page takes API tokens through the API's own check, and the
	// signed links of statuses and notifications.
	pages, err := web.New(web.Options{
		Tasks: store, Follower: engine, Auth: h, Links: signer, Config: active,
		Logger: o.logger.With("component", "web"), Registerer: o.reg,
	})
	if err != nil {
		return nil, nil, err
	}
	return worker, pages, nil
}

// newAPI builds the /api/v1/ handler with the admin token of DATA/admin.token
// (written with mode 0600 on first start).
func newAPI(data string, store *state.Store, engine *exec.Engine, snaps api.Snapshots, resolver *config.Resolver, logger *slog.Logger, reg prom.Registerer) (*api.Handler, error) {
	token, err := api.WriteAdminToken(data)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return api.New(api.Options{
		Engine:     engine,
		Store:      store,
		Config:     snaps,
		Secrets:    resolver,
		AdminToken: token,
		Logger:     logger.With("component", "api"),
		Registerer: reg,
	})
}
