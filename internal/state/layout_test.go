package state

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/semaphored/semaphored/internal/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dumpBuckets writes every bucket, sequence, key and value of tx in key
// order, nested buckets indented, keys and values quoted.
func dumpBuckets(tx *bbolt.Tx) []byte {
	var buf bytes.Buffer
	var walk func(b *bbolt.Bucket, indent string)
	walk = func(b *bbolt.Bucket, indent string) {
		_ = b.ForEach(func(k, v []byte) error {
			if v == nil {
				nb := b.Bucket(k)
				fmt.Fprintf(&buf, "%s%q/ (sequence %d)\n", indent, k, nb.Sequence())
				walk(nb, indent+"  ")
				return nil
			}
			fmt.Fprintf(&buf, "%s%q = %q\n", indent, k, v)
			return nil
		})
	}
	_ = tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		fmt.Fprintf(&buf, "%s/ (sequence %d)\n", name, b.Sequence())
		walk(b, "  ")
		return nil
	})
	return buf.Bytes()
}

// TestLayoutGolden pins the on-disk layout and encoding: a change here
// changes what older files hold and needs a migration. Refresh with
// go test ./internal/state -run TestLayoutGolden -update.
func TestLayoutGolden(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestOpts(t, path, c, Options{Outbox: func(old, new Task) []OutboxEntry {
		return []OutboxEntry{{Kind: OutboxCommitStatus, Target: "github:acme/site@abc123#semaphored/web/deploy", Payload: []byte(`{"state":"` + string(new.Status) + `"}`)}}
	}})
	if err := s.ApplyRevision(ctx, Revision{ID: "c0ffee", Source: "https://git.example.com/config.git", Message: "initial", Author: "ops"}, []Change{
		{Op: OpCreate, Key: key("", KindSettings, "settings"), Value: []byte(`{"concurrency":2}`)},
		{Op: OpCreate, Key: key("web", KindProject, "web"), Value: []byte(`{"name":"web"}`)},
		{Op: OpCreate, Key: key("web", KindTemplate, "deploy"), Value: []byte(`{"app":"ansible","playbook":"site.yml"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if err := s.RecordInvalidRevision(ctx, Revision{ID: "bad", Errors: []string{"projects/web.yml:4:3: unknown key \"playbok\""}}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: "api", Actor: "token ci"}, Overrides: task.Overrides{Commit: "abc123", Vars: map[string]any{"version": "1.2"}}}})
	c.Add(time.Second)
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error {
		t.Status, t.Started = StatusRunning, c.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, tk.ID, []LogLine{
		{Time: c.Now(), Text: "PLAY [all]"},
		{Time: c.Now().Add(1500 * time.Microsecond), Text: ""},
		{Time: c.Now().Add(2 * time.Second), Text: "ok: [web-1]"},
	}); err != nil {
		t.Fatal(err)
	}
	c.Add(3 * time.Second)
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error {
		t.Status, t.Ended, t.ExitCode = StatusSuccess, c.Now(), 0
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Entries 1 and 2 (waiting, running) were replaced by 3 (success).
	if err := s.AckOutbox(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueOutbox(ctx, OutboxEntry{Kind: OutboxNotification, Target: "slack:web#ops", TaskID: tk.ID, Status: StatusSuccess, Payload: []byte(`{"text":"ok"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailOutbox(ctx, 4, "slack: 404 channel_not_found", c.Now().Add(time.Minute), true); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Second)
	if _, _, _, err := s.AcceptDelivery(ctx, Delivery{Source: "github", ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Event: "push", Note: "no template matched"}, nil); err != nil {
		t.Fatal(err)
	}
	dt := mkTask("web", "deploy", "github:f00d#web/deploy")
	if _, _, _, err := s.AcceptDelivery(ctx, Delivery{Source: "github", ID: "f00d", Event: "push", Pending: true, Payload: []byte(`{"ref":"refs/heads/main"}`)}, []Task{dt}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []byte
	if err := db.View(func(tx *bbolt.Tx) error { got = dumpBuckets(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "layout.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("layout differs from %s (run with -update if the change is intended, and add a migration):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
