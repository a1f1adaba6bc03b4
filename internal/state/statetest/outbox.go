package statetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

var outboxTests = []test{
	{"ordering", testOutboxOrder},
	{"replacement", testOutboxReplace},
	{"due", testOutboxDue},
	{"fail and backoff", testOutboxFail},
	{"give up", testOutboxGiveUp},
	{"ack and last delivered", testOutboxAck},
	{"prune", testOutboxPrune},
}

func entry(kind state.OutboxKind, target, payload string) state.OutboxEntry {
	return state.OutboxEntry{Kind: kind, Target: target, TaskID: 1, Status: state.StatusRunning, Payload: []byte(payload)}
}

func enqueue(t *testing.T, s Store, entries ...state.OutboxEntry) []state.OutboxEntry {
	t.Helper()
	ctx := context.Background()
	before, err := s.DueOutbox(ctx, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueOutbox(ctx, entries...); err != nil {
		t.Fatalf("EnqueueOutbox: %v", err)
	}
	after, err := s.DueOutbox(ctx, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	var added []state.OutboxEntry
	for _, e := range after {
		if !slices.ContainsFunc(before, func(b state.OutboxEntry) bool { return b.Seq == e.Seq }) {
			added = append(added, e)
		}
	}
	return added
}

func testOutboxOrder(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	added := enqueue(t, s,
		entry(state.OutboxCommitStatus, "github:a/b@1#ctx", "1"),
		entry(state.OutboxNotification, "slack:#ops", "2"),
		entry(state.OutboxComment, "", "3"),
	)
	added = append(added, enqueue(t, s, entry(state.OutboxCommitStatus, "github:a/b@2#ctx", "4"))...)
	if len(added) != 4 {
		t.Fatalf("enqueued %d entries, want 4", len(added))
	}
	for i, e := range added {
		if i > 0 && e.Seq <= added[i-1].Seq {
			t.Errorf("seqs %v, want increasing in enqueue order", seqs(added))
		}
		if e.Created.Before(now.Add(-time.Second)) || !e.NextAttempt.Equal(e.Created) || e.Attempts != 0 || e.Failed || e.LastError != "" {
			t.Errorf("entry %+v, want created now, due at creation, no attempt", e)
		}
	}
	if string(added[3].Payload) != "4" || added[1].Kind != state.OutboxNotification || added[1].Target != "slack:#ops" || added[0].TaskID != 1 || added[0].Status != state.StatusRunning {
		t.Errorf("entries %+v do not keep their fields", added)
	}
	if n, err := s.PendingOutbox(ctx); err != nil || n != 4 {
		t.Errorf("PendingOutbox = %d, %v; want 4", n, err)
	}
	if err := s.EnqueueOutbox(ctx, state.OutboxEntry{Target: "x"}); err == nil {
		t.Error("EnqueueOutbox of an entry without a kind: got nil error")
	}
}

func testOutboxReplace(t *testing.T, s Store) {
	ctx := context.Background()
	first := enqueue(t, s,
		entry(state.OutboxCommitStatus, "github:a/b@1#ctx", "pending"),
		entry(state.OutboxNotification, "github:a/b@1#ctx", "other kind"),
		entry(state.OutboxComment, "", "no target 1"),
		entry(state.OutboxComment, "", "no target 2"),
	)
	second := enqueue(t, s, entry(state.OutboxCommitStatus, "github:a/b@1#ctx", "success"))
	due, err := s.DueOutbox(ctx, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{first[1].Seq, first[2].Seq, first[3].Seq, second[0].Seq}
	if !slices.Equal(seqs(due), want) {
		t.Errorf("after a newer entry of the same kind and target: seqs %v, want %v", seqs(due), want)
	}
	// The replaced entry is gone: its ack changes nothing, its failure is
	// not found.
	if err := s.AckOutbox(ctx, first[0].Seq); err != nil {
		t.Errorf("ack of a replaced entry: %v, want nil", err)
	}
	if _, ok, _ := s.LastDelivered(ctx, state.OutboxCommitStatus, "github:a/b@1#ctx"); ok {
		t.Error("ack of a replaced entry recorded it as delivered")
	}
	if _, err := s.FailOutbox(ctx, first[0].Seq, "x", time.Now(), false); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("FailOutbox of a replaced entry: got %v, want ErrNotFound", err)
	}
	// Entries in backoff are replaced too: the newer state is what counts.
	if _, err := s.FailOutbox(ctx, second[0].Seq, "503", time.Now().Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	third := enqueue(t, s, entry(state.OutboxCommitStatus, "github:a/b@1#ctx", "failure"))
	if n, _ := s.PendingOutbox(ctx); n != 4 {
		t.Errorf("PendingOutbox = %d, want 4", n)
	}
	due, _ = s.DueOutbox(ctx, far, 0)
	if got := due[len(due)-1]; got.Seq != third[0].Seq || string(got.Payload) != "failure" || got.Attempts != 0 {
		t.Errorf("newest entry %+v, want the failure payload, no attempts", got)
	}
	// Several entries of one target in one call: the last wins.
	enqueue(t, s, entry(state.OutboxCommitStatus, "t2", "a"), entry(state.OutboxCommitStatus, "t2", "b"))
	due, _ = s.DueOutbox(ctx, far, 0)
	var t2 []string
	for _, e := range due {
		if e.Target == "t2" {
			t2 = append(t2, string(e.Payload))
		}
	}
	if !slices.Equal(t2, []string{"b"}) {
		t.Errorf("entries of t2 = %v, want [b]", t2)
	}
}

func testOutboxDue(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	later := entry(state.OutboxNotification, "later", "")
	later.NextAttempt = now.Add(time.Hour)
	past := entry(state.OutboxNotification, "past", "")
	past.NextAttempt = now.Add(-time.Hour)
	atNow := entry(state.OutboxNotification, "now", "")
	atNow.Created, atNow.NextAttempt = now.Add(-time.Minute), now
	added := enqueue(t, s, later, past, atNow)
	if len(added) != 3 {
		t.Fatalf("enqueued %d, want 3", len(added))
	}
	seqOf := func(target string) uint64 {
		for _, e := range added {
			if e.Target == target {
				return e.Seq
			}
		}
		t.Fatalf("no entry for %s", target)
		return 0
	}
	tests := []struct {
		name  string
		at    time.Time
		limit int
		want  []uint64
	}{
		{"before all", now.Add(-2 * time.Hour), 0, nil},
		{"now, by seq", now, 0, []uint64{seqOf("past"), seqOf("now")}},
		{"now, limited", now, 1, []uint64{seqOf("past")}},
		{"all", now.Add(2 * time.Hour), 0, []uint64{seqOf("later"), seqOf("past"), seqOf("now")}},
		{"all, limited", now.Add(2 * time.Hour), 2, []uint64{seqOf("later"), seqOf("past")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DueOutbox(ctx, tt.at, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(got), tt.want) {
				t.Errorf("DueOutbox = %v, want %v", seqs(got), tt.want)
			}
		})
	}
	if n, _ := s.PendingOutbox(ctx); n != 3 {
		t.Errorf("PendingOutbox = %d, want 3 (due or not)", n)
	}
}

func testOutboxFail(t *testing.T, s Store) {
	ctx := context.Background()
	e := enqueue(t, s, entry(state.OutboxCommitStatus, "github:a/b@1#ctx", "x"))[0]
	now := time.Now().Truncate(time.Millisecond)
	next := now.Add(30 * time.Second)
	got, err := s.FailOutbox(ctx, e.Seq, "github: 502 Bad Gateway", next, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != 1 || got.LastError != "github: 502 Bad Gateway" || !got.NextAttempt.Equal(next) || got.Failed {
		t.Errorf("after one failure: %+v, want 1 attempt, the error, next attempt %v", got, next)
	}
	if due, _ := s.DueOutbox(ctx, now, 0); len(due) != 0 {
		t.Errorf("DueOutbox before the backoff ends = %v, want none", seqs(due))
	}
	due, _ := s.DueOutbox(ctx, next, 0)
	if len(due) != 1 || due[0].Seq != e.Seq || due[0].Attempts != 1 || due[0].LastError == "" {
		t.Errorf("DueOutbox when the backoff ends = %+v, want the entry with its attempt", due)
	}
	got, err = s.FailOutbox(ctx, e.Seq, strings.Repeat("e", 5000), next.Add(time.Minute), false)
	if err != nil || got.Attempts != 2 || len(got.LastError) > 1024 || len(got.LastError) == 0 {
		t.Errorf("second failure = %d attempts, %d-byte error, %v; want 2 and the error cut to at most 1 KiB", got.Attempts, len(got.LastError), err)
	}
	if n, _ := s.PendingOutbox(ctx); n != 1 {
		t.Errorf("PendingOutbox = %d, want 1 (in backoff counts)", n)
	}
	if _, err := s.FailOutbox(ctx, e.Seq+100, "x", next, false); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("FailOutbox of an unknown entry: got %v, want ErrNotFound", err)
	}
}

func testOutboxGiveUp(t *testing.T, s Store) {
	ctx := context.Background()
	added := enqueue(t, s, entry(state.OutboxCommitStatus, "a", "1"), entry(state.OutboxCommitStatus, "b", "2"))
	got, err := s.FailOutbox(ctx, added[0].Seq, "github: 422 Unprocessable Entity", time.Now(), true)
	if err != nil || !got.Failed || got.Attempts != 1 {
		t.Fatalf("final failure = %+v, %v; want Failed", got, err)
	}
	if due, _ := s.DueOutbox(ctx, far, 0); !slices.Equal(seqs(due), []uint64{added[1].Seq}) {
		t.Errorf("DueOutbox = %v, want only the other entry", seqs(due))
	}
	if n, _ := s.PendingOutbox(ctx); n != 1 {
		t.Errorf("PendingOutbox = %d, want 1 (failed entries do not count)", n)
	}
	// A newer entry of the failed one's target does not replace it.
	newer := enqueue(t, s, entry(state.OutboxCommitStatus, "a", "3"))
	if _, err := s.FailOutbox(ctx, added[1].Seq, "github: 404", time.Now(), true); err != nil {
		t.Fatal(err)
	}
	failed, err := s.FailedOutbox(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs(failed), []uint64{added[1].Seq, added[0].Seq}) || failed[1].LastError != "github: 422 Unprocessable Entity" {
		t.Errorf("FailedOutbox = %+v, want both, newest first, with their errors", failed)
	}
	if one, _ := s.FailedOutbox(ctx, 1); len(one) != 1 || one[0].Seq != added[1].Seq {
		t.Errorf("FailedOutbox(1) = %v, want the newest", seqs(one))
	}
	if due, _ := s.DueOutbox(ctx, far, 0); !slices.Equal(seqs(due), seqs(newer)) {
		t.Errorf("DueOutbox = %v, want the newer entry %v", seqs(due), seqs(newer))
	}
}

func testOutboxAck(t *testing.T, s Store) {
	ctx := context.Background()
	if _, ok, err := s.LastDelivered(ctx, state.OutboxCommitStatus, "a"); err != nil || ok {
		t.Errorf("LastDelivered before any ack = %v, %v; want none", ok, err)
	}
	added := enqueue(t, s, entry(state.OutboxCommitStatus, "a", `{"state":"pending"}`), entry(state.OutboxComment, "", "c"))
	if err := s.AckOutbox(ctx, added[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, added[0].Seq); err != nil {
		t.Errorf("second ack: %v, want nil", err)
	}
	if err := s.AckOutbox(ctx, added[1].Seq); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.PendingOutbox(ctx); n != 0 {
		t.Errorf("PendingOutbox after acks = %d, want 0", n)
	}
	p, ok, err := s.LastDelivered(ctx, state.OutboxCommitStatus, "a")
	if err != nil || !ok || string(p) != `{"state":"pending"}` {
		t.Errorf("LastDelivered = %s, %v, %v; want the acked payload", p, ok, err)
	}
	if _, ok, _ := s.LastDelivered(ctx, state.OutboxNotification, "a"); ok {
		t.Error("LastDelivered of another kind found the commit status")
	}
	// A newer delivery of the target replaces the record.
	next := enqueue(t, s, entry(state.OutboxCommitStatus, "a", `{"state":"success"}`))
	if err := s.AckOutbox(ctx, next[0].Seq); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := s.LastDelivered(ctx, state.OutboxCommitStatus, "a"); string(p) != `{"state":"success"}` {
		t.Errorf("LastDelivered after the second ack = %s, want success", p)
	}
	// An acknowledged failed entry leaves the failed list.
	f := enqueue(t, s, entry(state.OutboxNotification, "n", "x"))
	if _, err := s.FailOutbox(ctx, f[0].Seq, "400", time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, f[0].Seq); err != nil {
		t.Fatal(err)
	}
	if failed, _ := s.FailedOutbox(ctx, 0); len(failed) != 0 {
		t.Errorf("FailedOutbox after acking the failed entry = %v, want none", seqs(failed))
	}
}

func testOutboxPrune(t *testing.T, s Store) {
	ctx := context.Background()
	added := enqueue(t, s,
		entry(state.OutboxCommitStatus, "delivered", "d"),
		entry(state.OutboxCommitStatus, "failed", "f"),
		entry(state.OutboxCommitStatus, "pending", "p"),
	)
	if err := s.AckOutbox(ctx, added[0].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailOutbox(ctx, added[1].Seq, "400", time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneOutbox(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneOutbox of an hour ago = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneOutbox(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PruneOutbox = %d, %v; want 2 (a delivered record, a failed entry)", n, err)
	}
	if _, ok, _ := s.LastDelivered(ctx, state.OutboxCommitStatus, "delivered"); ok {
		t.Error("delivered record kept")
	}
	if failed, _ := s.FailedOutbox(ctx, 0); len(failed) != 0 {
		t.Errorf("failed entries kept: %v", seqs(failed))
	}
	if due, _ := s.DueOutbox(ctx, far, 0); !slices.Equal(seqs(due), []uint64{added[2].Seq}) {
		t.Errorf("pending entries after prune = %v, want %d (never pruned)", seqs(due), added[2].Seq)
	}
}
