package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Event is one entry of the event log as the API serves it. Raw keeps
// every field, including those this client does not name.
type Event struct {
	Seq     uint64          `json:"seq"`
	At      string          `json:"at"`
	Type    string          `json:"type"`
	Message string          `json:"message,omitempty"`
	Raw     json.RawMessage `json:"-"`
}

// EventQuery selects events: the fields are the ?type=, ?project=,
// ?source=, ?delivery= and ?task= filters of GET /api/v1/events.
type EventQuery struct {
	Types    []string
	Project  string
	Source   string
	Delivery string
	Task     uint64
}

// Events reads up to limit events after sequence number after. It returns
// them, the cursor to pass next time, and whether more are available
// right away (false at the end of the log: poll the cursor to follow).
func (c *Client) Events(ctx context.Context, q EventQuery, after uint64, limit int) ([]Event, uint64, bool, error) {
	v := url.Values{}
	for _, t := range q.Types {
		v.Add("type", t)
	}
	for k, s := range map[string]string{"project": q.Project, "source": q.Source, "delivery": q.Delivery} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Task != 0 {
		v.Set("task", strconv.FormatUint(q.Task, 10))
	}
	v.Set("after", strconv.FormatUint(after, 10))
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var raw []json.RawMessage
	resp, err := c.do(ctx, "GET", "/api/v1/events?"+v.Encode(), nil, &raw)
	if err != nil {
		return nil, after, false, fmt.Errorf("list events: %w", err)
	}
	out := make([]Event, 0, len(raw))
	for _, r := range raw {
		var e Event
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, after, false, fmt.Errorf("list events: %w", err)
		}
		e.Raw = r
		out = append(out, e)
	}
	next, more := after, false
	if len(out) > 0 {
		next = out[len(out)-1].Seq
	}
	for part := range strings.SplitSeq(resp.Header.Get("Link"), ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			continue
		}
		if a, err := strconv.ParseUint(u.Query().Get("after"), 10, 64); err == nil && a > next {
			// Events filtered out still move the cursor on.
			next = a
		}
		more = strings.Contains(params, `rel="next"`)
	}
	return out, next, more, nil
}
