package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/trigger"
)

// Store is what the receiver needs of the state: the durable intake.
type Store interface {
	AcceptDelivery(ctx context.Context, d trigger.Delivery, tasks []trigger.Task) (trigger.Delivery, []trigger.Task, bool, error)
	CompleteDelivery(ctx context.Context, source, id string, tasks []trigger.Task, note string) (trigger.Delivery, []trigger.Task, error)
	PendingDeliveries(ctx context.Context) ([]trigger.Delivery, error)
	ActiveTasks(ctx context.Context) ([]trigger.Task, error)
}

// Engine queues the tasks the store created and stops obsolete ones
// (*exec.Engine). Adopt ignores tasks it knows; after shutdown began it
// returns an error and the tasks stay waiting for the next start.
type Engine interface {
	Adopt(tasks ...trigger.Task) error
	Stop(ctx context.Context, id uint64) (trigger.Task, error)
}

// Snapshots gives the active configuration (*sync.Syncer).
type Snapshots interface {
	Snapshot() trigger.Snapshot
}

// Kicker starts a config sync at once (*sync.Syncer).
type Kicker interface {
	Kick()
}

// Differ lists the paths changed by from...to in a repository
// (*gitcache.Cache).
type Differ interface {
	ChangedPaths(ctx context.Context, url string, auth gitcache.Auth, from, to string) ([]string, error)
}

// Resolver turns secret references into values (*config.Resolver).
type Resolver interface {
	Resolve(s config.Secret) (string, error)
}

// Options configure New. Store, Engine and Snapshots are required.
type Options struct {
	Store     Store
	Engine    Engine
	Snapshots Snapshots
	Sync      Kicker
	Differ    Differ
	Secrets   Resolver
	Logger    *slog.Logger
	// Registerer receives the metrics (none when nil).
	Registerer prom.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DiffRetry is the pause before retrying a failed diff (default 5s,
	// doubling, three attempts).
	DiffRetry time.Duration
}

// Receiver serves the webhook endpoints and runs the intake worker.
type Receiver struct {
	store     Store
	engine    Engine
	snaps     Snapshots
	sync      Kicker
	differ    Differ
	secrets   Resolver
	log       *slog.Logger
	now       func() time.Time
	m         *metrics
	diffRetry time.Duration

	work chan job
}

// job is work for the intake worker: a pending delivery to complete, or
// stops to carry out.
type job struct {
	source, id string
}

// New returns a Receiver; it registers its metrics on opts.Registerer.
func New(opts Options) (*Receiver, error) {
	if opts.Store == nil || opts.Engine == nil || opts.Snapshots == nil {
		return nil, errors.New("webhook: Store, Engine and Snapshots are required")
	}
	r := &Receiver{
		store: opts.Store, engine: opts.Engine, snaps: opts.Snapshots, sync: opts.Sync,
		differ: opts.Differ, secrets: opts.Secrets, log: opts.Logger, now: opts.Now,
		diffRetry: opts.DiffRetry, work: make(chan job, 1024),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.secrets == nil {
		r.secrets = &config.Resolver{}
	}
	if r.diffRetry == 0 {
		r.diffRetry = 5 * time.Second
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	r.m = m
	return r, nil
}

// Handler returns the handler of POST /hooks/github, /hooks/gitlab,
// /hooks/gitea and /hooks/integrations/{project}/{name}. Mount it at
// "/hooks/".
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks/github", func(w http.ResponseWriter, req *http.Request) { r.serveForge(w, req, forge.GitHub) })
	mux.HandleFunc("/hooks/gitlab", func(w http.ResponseWriter, req *http.Request) { r.serveForge(w, req, forge.GitLab) })
	mux.HandleFunc("/hooks/gitea", func(w http.ResponseWriter, req *http.Request) { r.serveForge(w, req, forge.Gitea) })
	mux.HandleFunc("/hooks/integrations/{project}/{name}", r.serveIntegration)
	mux.HandleFunc("/hooks/", func(w http.ResponseWriter, _ *http.Request) {
		errAnswer(w, http.StatusNotFound, "not found", "no such hook path")
	})
	return mux
}

// TaskRef names a task in an answer.
type TaskRef struct {
	ID       uint64 `json:"id"`
	Project  string `json:"project"`
	Template string `json:"template"`
}

// Answer is the JSON body of every answer.
type Answer struct {
	// Status is created, pending, nothing, already processed, or an error
	// word (unauthorized, too large, bad request, unavailable, error).
	Status   string `json:"status"`
	Delivery string `json:"delivery,omitempty"`
	Event    string `json:"event,omitempty"`
	// Tasks are the tasks the delivery created (always present, maybe empty).
	Tasks []TaskRef `json:"tasks"`
	// Pending lists PROJECT/TEMPLATE whose changed paths are being diffed;
	// their tasks follow (see GET /api/v1/events).
	Pending []string `json:"pending,omitempty"`
	Sync    bool     `json:"sync,omitempty"`
	// Reasons say why templates ran nothing.
	Reasons []string `json:"reasons,omitempty"`
	Note    string   `json:"note,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func refs(ts []trigger.Task) []TaskRef {
	out := make([]TaskRef, 0, len(ts))
	for _, t := range ts {
		out = append(out, TaskRef{ID: t.ID, Project: t.Project, Template: t.Template})
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, a Answer) {
	if a.Tasks == nil {
		a.Tasks = []TaskRef{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(a)
	w.Write(append(b, '\n'))
}

// errAnswer writes an error answer.
// admit answers a request that is not a POST, or that comes before any
// configuration is active, setting *result to the metric's result; it
// reports whether to go on with the active snapshot.
func (r *Receiver) admit(w http.ResponseWriter, req *http.Request, result *string) (trigger.Snapshot, bool) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		errAnswer(w, http.StatusMethodNotAllowed, "bad request", "use POST")
		*result = "bad_request"
		return trigger.Snapshot{}, false
	}
	snap := r.snaps.Snapshot()
	if snap.Config == nil {
		errAnswer(w, http.StatusServiceUnavailable, "unavailable", "no configuration is active yet; retry later")
		*result = "unavailable"
		return trigger.Snapshot{}, false
	}
	return snap, true
}

func errAnswer(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, Answer{Status: status, Error: msg})
}

// readBody reads at most limit bytes; a declared or actual longer body is
// refused without reading the rest.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, bool) {
	if req.ContentLength > limit {
		errAnswer(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("body of %d bytes is over the limit of %d (settings.webhooks.max_body)", req.ContentLength, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			errAnswer(w, http.StatusRequestEntityTooLarge, "too large", fmt.Sprintf("body is over the limit of %d bytes (settings.webhooks.max_body)", limit))
		} else {
			errAnswer(w, http.StatusBadRequest, "bad request", "reading the body failed")
		}
		return nil, false
	}
	return body, true
}

func maxBody(cfg *config.Config) int64 {
	if n := int64(cfg.Settings.Webhooks.MaxBody); n > 0 {
		return n
	}
	return int64(config.DefaultWebhookMaxBody)
}

// eventLabel maps a forge event name to a bounded metric label.
func eventLabel(name string) string {
	switch {
	case name == "push" || name == "Push Hook" || name == "Tag Push Hook":
		return "push"
	case name == "pull_request" || name == "Merge Request Hook":
		return "pull_request"
	case name == "ping":
		return "ping"
	}
	return "other"
}

func deliveryID(t forge.Type, h http.Header) string {
	for _, k := range forge.DeliveryHeaders(t) {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	return ""
}

// verified returns the candidates whose secret authenticates the request.
func (r *Receiver) verified(t forge.Type, c trigger.Candidates, h http.Header, body []byte) trigger.Candidates {
	results := map[string]bool{} // secret value -> verified
	check := func(f *config.Forge, what string) bool {
		if f == nil || f.WebhookSecret == nil {
			return false
		}
		v, err := r.secrets.Resolve(*f.WebhookSecret)
		if err != nil {
			r.log.Error("webhook secret not available", "repository", what, "err", err)
			return false
		}
		ok, seen := results[v]
		if !seen {
			ok = forge.Verify(t, []byte(v), h, body) == nil
			results[v] = ok
		}
		return ok
	}
	var out trigger.Candidates
	for _, repo := range c.Repos {
		if check(repo.Repo.Forge, repo.Key()) {
			out.Repos = append(out.Repos, repo)
		}
	}
	if check(c.Config, "settings.config_repo") {
		out.Config = c.Config
	}
	return out
}

func (r *Receiver) serveForge(w http.ResponseWriter, req *http.Request, t forge.Type) {
	start := r.now()
	source := string(t)
	name := req.Header.Get(forge.EventHeader(t))
	label := eventLabel(name)
	result := "error"
	defer func() { r.m.observe(source, label, result, r.now().Sub(start)) }()
	snap, ok := r.admit(w, req, &result)
	if !ok {
		return
	}
	body, ok := readBody(w, req, maxBody(snap.Config))
	if !ok {
		result = "too_large"
		return
	}
	repoName, err := forge.ParseRepo(t, body)
	if err != nil {
		errAnswer(w, http.StatusBadRequest, "bad request", err.Error())
		result = "bad_request"
		return
	}
	cands := r.verified(t, trigger.Find(snap.Config, t, repoName), req.Header, body)
	if cands.Empty() {
		// Unknown repository, no secret, bad signature: one answer, so a
		// caller learns nothing about what is declared.
		r.log.Warn("webhook refused", "forge", source, "repository", repoName, "event", name)
		errAnswer(w, http.StatusUnauthorized, "unauthorized", "no declared repository with a webhook_secret matching this signature")
		result = "unauthorized"
		return
	}
	id := deliveryID(t, req.Header)
	if id == "" {
		errAnswer(w, http.StatusBadRequest, "bad request", "missing delivery id header "+strings.Join(forge.DeliveryHeaders(t), " or "))
		result = "bad_request"
		return
	}
	if name == "" {
		errAnswer(w, http.StatusBadRequest, "bad request", "missing event header "+forge.EventHeader(t))
		result = "bad_request"
		return
	}
	ev, err := forge.Parse(t, name, body)
	if err != nil {
		errAnswer(w, http.StatusBadRequest, "bad request", err.Error())
		result = "bad_request"
		return
	}
	code, a := r.accept(req.Context(), snap, cands, ev, id)
	result = a.Status
	if result == "already processed" {
		result = "duplicate"
	}
	writeJSON(w, code, a)
}

// pendingWork is the payload of a delivery recorded Pending: everything
// the worker needs, independent of later config changes.
type pendingWork struct {
	Event    forge.Event        `json:"event"`
	Deferred []trigger.Deferred `json:"deferred"`
	Created  []string           `json:"created,omitempty"`
	Reasons  []string           `json:"reasons,omitempty"`
	// Stops are the obsolete pull request checks to stop: recorded with
	// the delivery, so a crash before they are carried out does not lose
	// them (they are carried out again, harmlessly, after a restart).
	Stops []trigger.Stop `json:"stops,omitempty"`
}

// accept records a verified forge event and its tasks, then hands what
// needs the network to the worker.
func (r *Receiver) accept(ctx context.Context, snap trigger.Snapshot, c trigger.Candidates, ev forge.Event, id string) (int, Answer) {
	plan := trigger.PlanEvent(snap.Config, c, ev, id)
	tasks := make([]trigger.Task, 0, len(plan.Requests))
	var created, pending []string
	for _, req := range plan.Requests {
		tasks = append(tasks, trigger.Task{Request: req})
		created = append(created, req.Project+"/"+req.Template)
	}
	for _, d := range plan.Deferred {
		pending = append(pending, d.Request.Project+"/"+d.Request.Template)
	}
	d := trigger.Delivery{Source: string(ev.Forge), ID: id, Event: ev.Name, Received: r.now(),
		Note: trigger.Summary(ev, created, pending, plan.Reasons)}
	if len(plan.Deferred) > 0 || len(plan.Stops) > 0 {
		d.Pending = true
		d.Payload, _ = json.Marshal(pendingWork{Event: ev, Deferred: plan.Deferred, Created: created, Reasons: plan.Reasons, Stops: plan.Stops})
	}
	stored, got, isNew, err := r.store.AcceptDelivery(ctx, d, tasks)
	if err != nil {
		r.log.Error("webhook delivery not recorded", "forge", ev.Forge, "delivery", id, "err", err)
		return http.StatusServiceUnavailable, Answer{Status: "error", Delivery: id, Error: "the delivery could not be recorded; retry"}
	}
	a := Answer{Delivery: id, Event: ev.Name, Tasks: refs(got)}
	if !isNew {
		a.Status, a.Note = "already processed", stored.Note
		if stored.Pending {
			a.Pending = pending
		}
		return http.StatusOK, a
	}
	r.log.Info("webhook accepted", "forge", ev.Forge, "delivery", id, "event", ev.Name, "repository", ev.Repo, "tasks", len(got), "pending", len(pending))
	r.m.tasks(got)
	r.adopt(got)
	if plan.Sync && r.sync != nil {
		r.sync.Kick()
	}
	if d.Pending {
		r.enqueue(job{source: d.Source, id: id})
	}
	a.Pending, a.Sync, a.Reasons, a.Note = pending, plan.Sync, plan.Reasons, d.Note
	switch {
	case len(got) > 0:
		a.Status = "created"
		return http.StatusCreated, a
	case len(pending) > 0:
		a.Status = "pending"
		return http.StatusAccepted, a
	}
	a.Status = "nothing"
	return http.StatusOK, a
}

// adopt queues recorded tasks; a failure leaves them waiting in the state,
// where the engine finds them at its next start.
func (r *Receiver) adopt(ts []trigger.Task) {
	if len(ts) == 0 {
		return
	}
	if err := r.engine.Adopt(ts...); err != nil {
		r.log.Warn("tasks recorded but not queued now; they run after the next start", "err", err)
	}
}

// enqueue hands a job to the worker without blocking the answer; a full
// queue leaves a pending delivery to the next start (it stays recorded).
func (r *Receiver) enqueue(j job) {
	select {
	case r.work <- j:
	default:
		r.log.Warn("intake worker busy: delivery left for the next pass", "delivery", j.id)
	}
}

// Run is the intake worker: it completes the deliveries left pending
// (also those of a previous process), carrying out their stops first,
// until ctx ends. It returns nil then.
func (r *Receiver) Run(ctx context.Context) error {
	pending, err := r.store.PendingDeliveries(ctx)
	if err != nil {
		r.log.Error("pending deliveries not listed", "err", err)
	}
	for _, d := range pending {
		r.complete(ctx, d)
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-r.work:
			r.do(ctx, j)
		case <-tick.C:
			// Deliveries whose job did not fit the queue.
			pending, err := r.store.PendingDeliveries(ctx)
			if err != nil {
				r.log.Error("pending deliveries not listed", "err", err)
				continue
			}
			for _, d := range pending {
				if r.now().Sub(d.Received) > time.Minute {
					r.complete(ctx, d)
				}
			}
		}
	}
}

func (r *Receiver) do(ctx context.Context, j job) {
	pending, err := r.store.PendingDeliveries(ctx)
	if err != nil {
		r.log.Error("pending deliveries not listed", "err", err)
		return
	}
	for _, d := range pending {
		if d.Source == j.source && d.ID == j.id {
			r.complete(ctx, d)
		}
	}
}

// stop stops the tasks the stops name that were created before the
// delivery that asked for it was received (carried out again after a
// restart, a stop never reaches a newer delivery's task); a running task
// gets the engine's stop (SIGTERM, then SIGKILL after the grace period).
func (r *Receiver) stop(ctx context.Context, stops []trigger.Stop, received time.Time) {
	active, err := r.store.ActiveTasks(ctx)
	if err != nil {
		r.log.Error("obsolete pull request checks not stopped", "err", err)
		return
	}
	for _, t := range active {
		if !t.Created.Before(received) {
			continue
		}
		for _, s := range stops {
			if !s.Matches(t) {
				continue
			}
			r.log.Info("stopping an obsolete pull request check", "task", t.ID, "pr", s.PR, "project", t.Project, "template", t.Template)
			if _, err := r.engine.Stop(ctx, t.ID); err != nil {
				r.log.Warn("obsolete pull request check not stopped", "task", t.ID, "err", err)
			}
			break
		}
	}
}

// RetryFor is how long a delivery whose diff fails for a transient reason
// (the forge or the network down) stays pending, retried every minute,
// before it completes without the tasks that needed the diff.
const RetryFor = time.Hour

// complete diffs the paths of a pending delivery, creates the tasks whose
// paths matched and records the outcome. A transient failure leaves the
// delivery pending for the next pass, for RetryFor at most.
func (r *Receiver) complete(ctx context.Context, d trigger.Delivery) {
	source, id := d.Source, d.ID
	log := r.log.With("forge", source, "delivery", id)
	var w pendingWork
	if err := json.Unmarshal(d.Payload, &w); err != nil {
		log.Error("pending delivery unreadable; completed without tasks", "err", err)
		r.finish(ctx, source, id, nil, "pending work unreadable: "+err.Error())
		return
	}
	if len(w.Stops) > 0 {
		r.stop(ctx, w.Stops, d.Received)
	}
	snap := r.snaps.Snapshot()
	type span struct{ repo, from, to string }
	diffs := map[span][]string{}
	failed := map[span]string{}
	transient := false
	var reqs []trigger.Request
	var reasons []string
	for _, d := range w.Deferred {
		k := span{d.Repo, d.From, d.To}
		if _, done := diffs[k]; !done && failed[k] == "" {
			paths, err := r.diff(ctx, snap, d.Repo, d.From, d.To)
			if err != nil {
				failed[k] = err.Error()
				transient = transient || gitcache.IsTransient(err)
			} else {
				diffs[k] = paths
			}
		}
		if msg := failed[k]; msg != "" {
			reasons = append(reasons, d.Request.Project+"/"+d.Request.Template+": changed paths could not be computed: "+msg)
			continue
		}
		rq, rs := trigger.Resolve([]trigger.Deferred{d}, diffs[k])
		reqs = append(reqs, rq...)
		reasons = append(reasons, rs...)
	}
	if ctx.Err() != nil {
		return // shutting down: the delivery stays pending for the next start
	}
	if transient && r.now().Sub(d.Received) < RetryFor {
		log.Warn("diff failed; the delivery stays pending and is retried", "reasons", len(failed))
		return
	}
	tasks := make([]trigger.Task, 0, len(reqs))
	created := w.Created
	for _, q := range reqs {
		tasks = append(tasks, trigger.Task{Request: q})
		created = append(created, q.Project+"/"+q.Template)
	}
	note := trigger.Summary(w.Event, created, nil, append(w.Reasons, reasons...))
	got := r.finish(ctx, source, id, tasks, note)
	if len(got) > 0 {
		log.Info("pending delivery completed", "tasks", len(got))
	}
}

func (r *Receiver) finish(ctx context.Context, source, id string, tasks []trigger.Task, note string) []trigger.Task {
	_, got, err := r.store.CompleteDelivery(ctx, source, id, tasks, note)
	if err != nil {
		r.log.Error("pending delivery not completed", "forge", source, "delivery", id, "err", err)
		return nil
	}
	r.m.tasks(tasks)
	r.adopt(got)
	return got
}

// diff computes the changed paths in a declared repository, retrying
// transient failures.
func (r *Receiver) diff(ctx context.Context, snap trigger.Snapshot, repoKey, from, to string) ([]string, error) {
	if r.differ == nil {
		return nil, errors.New("no git cache to diff with")
	}
	if snap.Config == nil {
		return nil, errors.New("no configuration is active")
	}
	project, name, _ := strings.Cut(repoKey, "/")
	p := snap.Config.Projects[project]
	if p == nil || p.Repositories[name] == nil {
		return nil, fmt.Errorf("repository %s is no longer declared", repoKey)
	}
	repo := p.Repositories[name]
	auth, err := gitcache.RepositoryAuth(p, repo, r.resolve)
	if err != nil {
		return nil, err
	}
	url := repo.URL
	if config.ClassifyURL(url) == config.URLLocal && !filepath.IsAbs(url) && snap.Root != "" {
		url = filepath.Join(snap.Root, url)
	}
	wait := r.diffRetry
	for attempt := 1; ; attempt++ {
		paths, err := r.differ.ChangedPaths(ctx, url, auth, from, to)
		if err == nil || attempt == 3 || !gitcache.IsTransient(err) {
			return paths, err
		}
		r.log.Warn("diff failed; retrying", "repository", repoKey, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// resolve resolves the secret s for a repository's credentials; what
// names it for errors.
func (r *Receiver) resolve(what string, s *config.Secret) (string, error) {
	if s == nil {
		return "", nil
	}
	v, err := r.secrets.Resolve(*s)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", what, err)
	}
	return v, nil
}

// newCallID makes a delivery id for an integration call that brings none.
func newCallID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}
