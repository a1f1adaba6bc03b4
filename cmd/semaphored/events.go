package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/semaphored/semaphored/internal/client"
)

// cmdEvents prints the event log: what each webhook delivery, schedule
// slot and integration call did (tasks created, or why none), config
// changes and task status changes. With -f it keeps polling for new ones.
func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("events", stderr)
	cf := addClientFlags(fs)
	follow := fs.Bool("f", false, "follow: keep printing new events until interrupted")
	fs.BoolVar(follow, "follow", false, "same as -f")
	var types listFlag
	fs.Var(&types, "type", "only events of this type (delivery, config, revision, task_status); repeatable")
	project := fs.String("project", "", "only events of this project")
	source := fs.String("source", "", "only deliveries from this source (github, gitlab, gitea, schedule, integration)")
	task := fs.Uint64("task", 0, "only events of this task")
	after := fs.Uint64("after", 0, "start after this event sequence number")
	asJSON := fs.Bool("json", false, "print each event as one line of JSON")
	interval := fs.Duration("interval", time.Second, "how often -f polls")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: semaphored events [-f] [--type T] [--project P] [--source S] [--task ID] [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return fmt.Errorf("events: unexpected arguments %q", pos)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := client.EventQuery{Project: *project, Source: *source, Task: *task}
	for _, t := range types {
		q.Types = append(q.Types, splitList(t)...)
	}
	cursor := *after
	for {
		evs, next, more, err := c.Events(ctx, q, cursor, 500)
		if err != nil {
			if ctx.Err() != nil && *follow {
				return nil
			}
			return fmt.Errorf("events: %w", err)
		}
		for _, e := range evs {
			if err := printEvent(stdout, e, *asJSON); err != nil {
				return err
			}
		}
		cursor = next
		if more {
			continue
		}
		if !*follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// printEvent writes one line: sequence, time, type and what happened.
func printEvent(w io.Writer, e client.Event, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", e.Raw)
		return err
	}
	var f struct {
		Op       string   `json:"op"`
		Revision string   `json:"revision"`
		TaskID   uint64   `json:"task_id"`
		TaskIDs  []uint64 `json:"task_ids"`
		Status   string   `json:"status"`
		Source   string   `json:"source"`
		Delivery string   `json:"delivery"`
		Note     string   `json:"note"`
		Key      *struct {
			Project, Kind, Name string
		} `json:"key"`
	}
	_ = json.Unmarshal(e.Raw, &f)
	at := e.At
	if t, err := time.Parse(time.RFC3339Nano, e.At); err == nil {
		at = t.Local().Format("2006-01-02 15:04:05")
	}
	line := fmt.Sprintf("%-6d %s %-11s", e.Seq, at, e.Type)
	switch {
	case f.Key != nil:
		name := f.Key.Kind + " " + f.Key.Name
		if f.Key.Project != "" {
			name = f.Key.Project + "/" + name
		}
		line += " " + f.Op + " " + name
	case f.Source != "" || f.Delivery != "":
		line += " " + f.Source + " " + f.Delivery
	case f.TaskID != 0:
		line += " task " + strconv.FormatUint(f.TaskID, 10)
		if f.Status != "" {
			line += " " + f.Status
		}
	}
	if f.Revision != "" && f.Key == nil {
		line += " revision " + f.Revision
	}
	msg := e.Message
	if msg == "" {
		msg = f.Note
	}
	if msg != "" {
		line += ": " + msg
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
