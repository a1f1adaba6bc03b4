package state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func key(project string, kind Kind, name string) ObjectKey {
	return ObjectKey{Project: project, Kind: kind, Name: name}
}

func TestApplyRevision(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)

	first := []Change{
		{Op: OpCreate, Key: key("web", KindTemplate, "deploy"), Value: []byte(`{"app":"ansible"}`)},
		{Op: OpCreate, Key: key("web", KindProject, "web"), Value: []byte(`{"name":"web"}`)},
		{Op: OpCreate, Key: key("", KindSettings, "settings"), Value: []byte(`{}`)},
		{Op: OpCreate, Key: key("api", KindTemplate, "build"), Value: []byte(`{"app":"bash"}`)},
	}
	if err := s.ApplyRevision(ctx, Revision{ID: "aaa", Source: "git"}, first); err != nil {
		t.Fatal(err)
	}
	objs, err := s.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []ObjectKey{
		key("", KindSettings, "settings"),
		key("api", KindTemplate, "build"),
		key("web", KindProject, "web"),
		key("web", KindTemplate, "deploy"),
	}
	if got := objectKeys(objs); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("Objects keys = %v, want %v (sorted)", got, wantKeys)
	}
	if got, want := string(objs[3].Value), `{"app":"ansible"}`; got != want {
		t.Errorf("value of %v = %s, want %s", objs[3].Key, got, want)
	}

	c.Add(time.Minute)
	second := []Change{
		{Op: OpUpdate, Key: key("web", KindTemplate, "deploy"), Value: []byte(`{"app":"tofu"}`)},
		{Op: OpDelete, Key: key("api", KindTemplate, "build")},
	}
	if err := s.ApplyRevision(ctx, Revision{ID: "bbb", Source: "git", Message: "switch to tofu"}, second); err != nil {
		t.Fatal(err)
	}
	got, err := s.Object(ctx, key("web", KindTemplate, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Value) != `{"app":"tofu"}` {
		t.Errorf("updated value = %s, want {\"app\":\"tofu\"}", got.Value)
	}
	if _, err := s.Object(ctx, key("api", KindTemplate, "build")); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted object: got %v, want ErrNotFound", err)
	}

	active, ok, err := s.ActiveRevision(ctx)
	if err != nil || !ok {
		t.Fatalf("ActiveRevision = %v, %v, %v", active, ok, err)
	}
	if active.ID != "bbb" || !active.Valid || !active.Applied.Equal(c.Now()) || !active.Seen.Equal(c.Now()) {
		t.Errorf("active revision = %+v, want bbb valid, seen and applied now", active)
	}
	last, _, _ := s.LastRevision(ctx)
	if last.ID != "bbb" {
		t.Errorf("last revision = %s, want bbb", last.ID)
	}
	revs, err := s.Revisions(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].ID != "bbb" || revs[1].ID != "aaa" {
		t.Errorf("Revisions = %v, want bbb then aaa", revs)
	}

	events, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 4 changes + revision, 2 changes + revision.
	wantEvents := []struct {
		typ EventType
		rev string
		op  Op
	}{
		{EventConfig, "aaa", OpCreate}, {EventConfig, "aaa", OpCreate}, {EventConfig, "aaa", OpCreate}, {EventConfig, "aaa", OpCreate},
		{EventRevision, "aaa", ""},
		{EventConfig, "bbb", OpUpdate}, {EventConfig, "bbb", OpDelete},
		{EventRevision, "bbb", ""},
	}
	if len(events) != len(wantEvents) {
		t.Fatalf("got %d events, want %d: %+v", len(events), len(wantEvents), events)
	}
	for i, w := range wantEvents {
		e := events[i]
		if e.Seq != uint64(i+1) || e.Type != w.typ || e.Revision != w.rev || e.Op != w.op {
			t.Errorf("event %d = %+v, want seq %d %s %s %s", i, e, i+1, w.typ, w.rev, w.op)
		}
		if e.Type == EventConfig && e.Key == nil {
			t.Errorf("event %d has no key", i)
		}
	}
	if *events[6].Key != key("api", KindTemplate, "build") {
		t.Errorf("delete event key = %v, want api/template/build", *events[6].Key)
	}
}

func objectKeys(objs []Object) []ObjectKey {
	keys := make([]ObjectKey, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

func TestApplyRevisionConflictsApplyNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	base := []Change{{Op: OpCreate, Key: key("p", KindTemplate, "a"), Value: []byte(`{"v":1}`)}}
	if err := s.ApplyRevision(ctx, Revision{ID: "base"}, base); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		changes []Change
		wantErr error
	}{
		{"create existing", []Change{
			{Op: OpCreate, Key: key("p", KindTemplate, "b"), Value: []byte(`{}`)},
			{Op: OpCreate, Key: key("p", KindTemplate, "a"), Value: []byte(`{}`)},
		}, ErrConflict},
		{"update missing", []Change{
			{Op: OpUpdate, Key: key("p", KindTemplate, "a"), Value: []byte(`{"v":2}`)},
			{Op: OpUpdate, Key: key("p", KindTemplate, "zzz"), Value: []byte(`{}`)},
		}, ErrConflict},
		{"delete missing", []Change{
			{Op: OpDelete, Key: key("p", KindTemplate, "a")},
			{Op: OpDelete, Key: key("q", KindTemplate, "a")},
		}, ErrConflict},
		{"create twice in one revision", []Change{
			{Op: OpCreate, Key: key("p", KindKey, "k"), Value: []byte(`{}`)},
			{Op: OpCreate, Key: key("p", KindKey, "k"), Value: []byte(`{}`)},
		}, ErrConflict},
		{"unknown op", []Change{{Op: "upsert", Key: key("p", KindKey, "k"), Value: []byte(`{}`)}}, nil},
		{"create without value", []Change{{Op: OpCreate, Key: key("p", KindKey, "k")}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.ApplyRevision(ctx, Revision{ID: "bad"}, tt.changes)
			if err == nil {
				t.Fatal("ApplyRevision succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			objs, _ := s.Objects(ctx)
			if len(objs) != 1 || string(objs[0].Value) != `{"v":1}` {
				t.Errorf("objects after failed apply = %v, want only the base object", objs)
			}
			events, _ := s.Events(ctx, 0, 0)
			if len(events) != 2 {
				t.Errorf("got %d events after failed apply, want 2", len(events))
			}
			rev, _, _ := s.LastRevision(ctx)
			if rev.ID != "base" {
				t.Errorf("last revision = %s, want base", rev.ID)
			}
		})
	}
}

func TestRecordInvalidRevision(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	if err := s.ApplyRevision(ctx, Revision{ID: "good"}, []Change{{Op: OpCreate, Key: key("p", KindProject, "p"), Value: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	bad := Revision{ID: "bad", Valid: true, Errors: []string{"projects/p.yml:3:5: unknown key \"foo\"", "projects/p.yml:9:1: second"}}
	if err := s.RecordInvalidRevision(ctx, bad); err != nil {
		t.Fatal(err)
	}
	active, _, _ := s.ActiveRevision(ctx)
	if active.ID != "good" {
		t.Errorf("active = %s, want good", active.ID)
	}
	last, ok, err := s.LastRevision(ctx)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if last.ID != "bad" || last.Valid || len(last.Errors) != 2 || !last.Applied.IsZero() || !last.Seen.Equal(c.Now()) {
		t.Errorf("last = %+v, want bad, invalid, 2 errors, not applied, seen now", last)
	}
	events, _ := s.Events(ctx, 2, 10)
	if len(events) != 1 || events[0].Type != EventRevision || events[0].Revision != "bad" || events[0].Message != bad.Errors[0] {
		t.Errorf("events after invalid revision = %+v, want one revision event with the first error", events)
	}
	if objs, _ := s.Objects(ctx); len(objs) != 1 {
		t.Errorf("got %d objects, want 1", len(objs))
	}
}

func TestEventsPaging(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	var changes []Change
	for i := range 25 {
		changes = append(changes, Change{Op: OpCreate, Key: key("p", KindKey, fmt.Sprintf("k%02d", i)), Value: []byte(`{}`)})
	}
	if err := s.ApplyRevision(ctx, Revision{ID: "r"}, changes); err != nil {
		t.Fatal(err)
	}
	var all []Event
	var after uint64
	for {
		page, err := s.Events(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 10 {
			t.Fatalf("page of %d events, want at most 10", len(page))
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	if len(all) != 26 {
		t.Fatalf("paged %d events, want 26", len(all))
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
}
