package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/semaphored/semaphored/internal/state"
)

// EventReader reads the append-only event log (state.Store). The API
// serves GET /api/v1/events when its TaskStore is one too.
type EventReader interface {
	Events(ctx context.Context, after uint64, limit int) ([]state.Event, error)
}

// eventScan is how many events are read from the store at a time while
// filtering.
const eventScan = 500

// eventFilter selects events by the fields of their JSON form, so that
// fields the state adds (a delivery's source and id) filter without a
// change here.
type eventFilter struct {
	types    []string
	project  string
	source   string
	delivery string
	task     uint64
}

func parseEventFilter(q url.Values) (eventFilter, error) {
	f := eventFilter{project: q.Get("project"), source: q.Get("source"), delivery: q.Get("delivery")}
	for _, v := range q["type"] {
		f.types = append(f.types, splitComma(v)...)
	}
	if v := q.Get("task"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			return f, errorf(http.StatusBadRequest, "bad task %q: want a task id", v)
		}
		f.task = id
	}
	return f, nil
}

func splitComma(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// projectsOf lists the projects an event concerns; a task event's project
// is its task's. An empty list means none is known.
func (h *Handler) projectsOf(ctx context.Context, e state.Event, tasks map[uint64]string) []string {
	var out []string
	if e.Key != nil && e.Key.Project != "" {
		out = append(out, e.Key.Project)
	}
	out = append(out, e.Projects...)
	ids := slices.Clone(e.TaskIDs)
	if e.TaskID != 0 {
		ids = append(ids, e.TaskID)
	}
	for _, id := range ids {
		p, ok := tasks[id]
		if !ok {
			if t, err := h.store.Task(ctx, id); err == nil {
				p = t.Project
			}
			tasks[id] = p
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (h *Handler) eventMatches(ctx context.Context, e state.Event, f eventFilter, p *principal, tasks map[uint64]string) (bool, error) {
	if len(f.types) > 0 && !slices.Contains(f.types, string(e.Type)) {
		return false, nil
	}
	if f.source != "" && e.Source != f.source {
		return false, nil
	}
	if f.delivery != "" && e.Delivery != f.delivery {
		return false, nil
	}
	if f.task != 0 && e.TaskID != f.task && !slices.Contains(e.TaskIDs, f.task) {
		return false, nil
	}
	if f.project == "" && p.projects == nil {
		return true, nil
	}
	projects := h.projectsOf(ctx, e, tasks)
	if f.project != "" && !slices.Contains(projects, f.project) {
		return false, nil
	}
	// A token limited to projects sees the events of those projects only.
	if p.projects != nil {
		if len(projects) == 0 {
			return false, nil
		}
		for _, pr := range projects {
			if !p.project(pr) {
				return false, nil
			}
		}
	}
	return true, nil
}

// listEvents answers a JSON array of events, oldest first from ?after=SEQ
// (default 0), filtered by ?type= (repeatable or comma-separated),
// ?project=, ?source=, ?delivery= and ?task=, and a Link header with
// rel="next" when the log goes on. A follower polls the next link.
func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	er, ok := h.store.(EventReader)
	if !ok {
		return errorf(http.StatusNotImplemented, "this store has no event log")
	}
	q := r.URL.Query()
	f, err := parseEventFilter(q)
	if err != nil {
		return err
	}
	if f.project != "" {
		if err := p.checkProject(f.project); err != nil {
			return err
		}
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return errorf(http.StatusBadRequest, "bad after %q: want an event sequence number", v)
		}
	}
	limit := DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, "bad limit %q: want 1 to %d", v, MaxPageSize)
		}
		limit = n
	}
	out := make([]state.Event, 0, limit)
	tasks := map[uint64]string{}
	cursor, more := after, false
scan:
	for {
		batch, err := er.Events(r.Context(), cursor, eventScan)
		if err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		for _, e := range batch {
			if len(out) == limit {
				more = true
				break scan
			}
			cursor = e.Seq
			ok, err := h.eventMatches(r.Context(), e, f, p, tasks)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		if len(batch) < eventScan {
			break
		}
	}
	next := url.Values{}
	for _, k := range []string{"project", "source", "delivery", "task"} {
		if v := q.Get(k); v != "" {
			next.Set(k, v)
		}
	}
	for _, t := range f.types {
		next.Add("type", t)
	}
	next.Set("after", strconv.FormatUint(cursor, 10))
	next.Set("limit", strconv.Itoa(limit))
	rel := "next"
	if !more {
		// The end of the log for now: the same link gives what comes later.
		rel = "follow"
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="%s"`, r.URL.Path, next.Encode(), rel))
	writeJSON(w, http.StatusOK, out)
	return nil
}
