package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

var logTests = []test{
	{"append and read", testAppendRead},
	{"unknown task", testLogUnknownTask},
}

var revisionTests = []test{
	{"apply and read objects", testApplyRevision},
	{"conflicts change nothing", testRevisionConflict},
	{"invalid revision", testInvalidRevision},
	{"events paging", testEventsPaging},
}

func testAppendRead(t *testing.T, s Store) {
	ctx := context.Background()
	tk := mustCreate(t, s, newTask("p", "t"))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []state.LogLine
	for _, n := range []int{1, 7, 300, 2} {
		batch := make([]state.LogLine, n)
		for i := range batch {
			k := len(want) + i
			batch[i] = state.LogLine{Time: t0.Add(time.Duration(k) * time.Millisecond), Text: fmt.Sprintf("line %d\twith ✓", k+1)}
		}
		if err := s.AppendLog(ctx, tk.ID, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	var bytes uint64
	for i := range want {
		want[i].N = uint64(i + 1)
		bytes += uint64(len(want[i].Text))
	}
	got, err := s.Task(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogLines != uint64(len(want)) || got.LogBytes != bytes {
		t.Errorf("LogLines, LogBytes = %d, %d; want %d, %d", got.LogLines, got.LogBytes, len(want), bytes)
	}
	tests := []struct {
		name      string
		from      uint64
		max       int
		wantFirst int // index into want
		wantN     int
	}{
		{"all", 0, 0, 0, len(want)},
		{"from the first", 1, 0, 0, len(want)},
		{"inside a batch", 50, 10, 49, 10},
		{"across batches", 305, 5, 304, 5},
		{"the last", uint64(len(want)), 10, len(want) - 1, 1},
		{"past the end", uint64(len(want)) + 1, 10, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := s.ReadLog(ctx, tk.ID, tt.from, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != tt.wantN {
				t.Fatalf("got %d lines, want %d", len(lines), tt.wantN)
			}
			for i, l := range lines {
				w := want[tt.wantFirst+i]
				if l.N != w.N || l.Text != w.Text || !l.Time.Equal(w.Time) {
					t.Fatalf("line %d = %+v, want %+v", i, l, w)
				}
			}
		})
	}
	// A line without a time gets one.
	if err := s.AppendLog(ctx, tk.ID, []state.LogLine{{Text: "no time"}}); err != nil {
		t.Fatal(err)
	}
	last, err := s.ReadLog(ctx, tk.ID, uint64(len(want))+1, 0)
	if err != nil || len(last) != 1 || last[0].Time.IsZero() || last[0].N != uint64(len(want))+1 {
		t.Errorf("line without a time = %+v, %v; want it stamped and numbered %d", last, err, len(want)+1)
	}
}

func testLogUnknownTask(t *testing.T, s Store) {
	ctx := context.Background()
	tk := mustCreate(t, s, newTask("p", "t"))
	if err := s.AppendLog(ctx, tk.ID+100, []state.LogLine{{Text: "x"}}); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("AppendLog to an unknown task: got %v, want ErrNotFound", err)
	}
	if _, err := s.ReadLog(ctx, tk.ID+100, 0, 0); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("ReadLog of an unknown task: got %v, want ErrNotFound", err)
	}
	if lines, err := s.ReadLog(ctx, tk.ID, 0, 0); err != nil || len(lines) != 0 {
		t.Errorf("ReadLog of a task without lines = %v, %v; want none", lines, err)
	}
}

func objKey(project string, kind state.Kind, name string) state.ObjectKey {
	return state.ObjectKey{Project: project, Kind: kind, Name: name}
}

func testApplyRevision(t *testing.T, s Store) {
	ctx := context.Background()
	if _, ok, err := s.ActiveRevision(ctx); err != nil || ok {
		t.Fatalf("ActiveRevision of an empty store = %v, %v; want none", ok, err)
	}
	first := []state.Change{
		{Op: state.OpCreate, Key: objKey("web", state.KindTemplate, "deploy"), Value: []byte(`{"app":"ansible"}`)},
		{Op: state.OpCreate, Key: objKey("web", state.KindProject, "web"), Value: []byte(`{"name":"web"}`)},
		{Op: state.OpCreate, Key: objKey("", state.KindSettings, "settings"), Value: []byte(`{}`)},
	}
	if err := s.ApplyRevision(ctx, state.Revision{ID: "aaa", Source: "git"}, first); err != nil {
		t.Fatal(err)
	}
	second := []state.Change{
		{Op: state.OpUpdate, Key: objKey("web", state.KindTemplate, "deploy"), Value: []byte(`{"app":"tofu"}`)},
		{Op: state.OpDelete, Key: objKey("", state.KindSettings, "settings")},
	}
	if err := s.ApplyRevision(ctx, state.Revision{ID: "bbb", Source: "git"}, second); err != nil {
		t.Fatal(err)
	}
	objs, err := s.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.ObjectKey{objKey("web", state.KindProject, "web"), objKey("web", state.KindTemplate, "deploy")}
	var got []state.ObjectKey
	for _, o := range objs {
		got = append(got, o.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Objects = %v, want %v (sorted)", got, want)
	}
	o, err := s.Object(ctx, objKey("web", state.KindTemplate, "deploy"))
	if err != nil || string(o.Value) != `{"app":"tofu"}` {
		t.Errorf("Object(deploy) = %s, %v; want the update", o.Value, err)
	}
	if _, err := s.Object(ctx, objKey("", state.KindSettings, "settings")); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("deleted object: got %v, want ErrNotFound", err)
	}
	active, ok, err := s.ActiveRevision(ctx)
	if err != nil || !ok || active.ID != "bbb" || !active.Valid || active.Applied.IsZero() {
		t.Errorf("ActiveRevision = %+v, %v, %v; want bbb, valid, applied", active, ok, err)
	}
	revs, err := s.Revisions(ctx, 0)
	if err != nil || len(revs) != 2 || revs[0].ID != "bbb" || revs[1].ID != "aaa" {
		t.Errorf("Revisions = %+v, %v; want bbb, aaa", revs, err)
	}
	events, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var config, revision int
	for _, e := range events {
		switch e.Type {
		case state.EventConfig:
			config++
		case state.EventRevision:
			revision++
		}
	}
	if config != 5 || revision != 2 {
		t.Errorf("got %d config and %d revision events, want 5 and 2", config, revision)
	}
}

func testRevisionConflict(t *testing.T, s Store) {
	ctx := context.Background()
	k := objKey("web", state.KindProject, "web")
	if err := s.ApplyRevision(ctx, state.Revision{ID: "aaa"}, []state.Change{{Op: state.OpCreate, Key: k, Value: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	bad := [][]state.Change{
		{{Op: state.OpCreate, Key: objKey("web", state.KindTemplate, "new"), Value: []byte(`2`)}, {Op: state.OpCreate, Key: k, Value: []byte(`2`)}},
		{{Op: state.OpUpdate, Key: objKey("web", state.KindTemplate, "missing"), Value: []byte(`2`)}},
		{{Op: state.OpDelete, Key: objKey("web", state.KindTemplate, "missing")}},
	}
	for i, changes := range bad {
		if err := s.ApplyRevision(ctx, state.Revision{ID: fmt.Sprint("bad", i)}, changes); !errors.Is(err, state.ErrConflict) {
			t.Errorf("changes %d: got %v, want ErrConflict", i, err)
		}
	}
	objs, _ := s.Objects(ctx)
	if len(objs) != 1 || string(objs[0].Value) != "1" {
		t.Errorf("objects after conflicts = %+v, want only the first", objs)
	}
	if active, _, _ := s.ActiveRevision(ctx); active.ID != "aaa" {
		t.Errorf("active revision = %q after conflicts, want aaa", active.ID)
	}
}

func testInvalidRevision(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.ApplyRevision(ctx, state.Revision{ID: "good"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInvalidRevision(ctx, state.Revision{ID: "bad", Errors: []string{"a.yml:1:1: nope"}}); err != nil {
		t.Fatal(err)
	}
	active, _, _ := s.ActiveRevision(ctx)
	last, ok, err := s.LastRevision(ctx)
	if active.ID != "good" || err != nil || !ok || last.ID != "bad" || last.Valid || len(last.Errors) != 1 {
		t.Errorf("active %q, last %+v (%v); want good, and bad invalid with its error", active.ID, last, err)
	}
	events, _ := s.Events(ctx, 0, 0)
	if n := len(events); n == 0 || events[n-1].Type != state.EventRevision || events[n-1].Revision != "bad" || events[n-1].Message != "a.yml:1:1: nope" {
		t.Errorf("last event = %+v, want the rejection with its first error", events)
	}
}

func testEventsPaging(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 12 {
		mustCreate(t, s, newTask("p", fmt.Sprint("t", i)))
	}
	all, err := s.Events(ctx, 0, 0)
	if err != nil || len(all) != 12 {
		t.Fatalf("Events = %d, %v; want 12", len(all), err)
	}
	var got []uint64
	after := uint64(0)
	for {
		page, err := s.Events(ctx, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			got = append(got, e.Seq)
		}
		after = page[len(page)-1].Seq
	}
	var want []uint64
	for _, e := range all {
		want = append(want, e.Seq)
	}
	if !slices.Equal(got, want) || !slices.IsSorted(want) {
		t.Errorf("paged seqs %v, want %v ascending", got, want)
	}
}
