package state

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/semaphored/semaphored/internal/task"
)

// BenchmarkAppendLog stores batches of 80-byte lines, each batch one
// fsynced transaction, and reports lines per second. The target is
// 200,000 lines/s with 1,000-line batches; the other sizes show how the
// rate follows the batch size, since the cost of a batch is mostly its
// fsyncs.
func BenchmarkAppendLog(b *testing.B) {
	for _, batch := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, nil)
			tk := mustCreate(b, s, Task{Request: task.Request{Project: "p", Template: "t"}})
			lines := make([]LogLine, batch)
			t0 := time.Now()
			for i := range lines {
				text := fmt.Sprintf("TASK [deploy : copy files] ok: [host-%04d] => changed=false line %06d ", i%10000, i)
				lines[i] = LogLine{Time: t0.Add(time.Duration(i) * 37 * time.Microsecond), Text: (text + strings.Repeat(".", 80))[:80]}
			}
			b.SetBytes(int64(batch) * 80)
			start := time.Now()
			for b.Loop() {
				if err := s.AppendLog(ctx, tk.ID, lines); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// BenchmarkReadLog reads 1,000-line pages at spread-out offsets of a
// 200,000-line log and reports lines per second.
func BenchmarkReadLog(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, nil)
	tk := mustCreate(b, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	const total, batch = 200_000, 1000
	t0 := time.Now()
	for n := 0; n < total; n += batch {
		if err := s.AppendLog(ctx, tk.ID, makeLines(n, batch, t0)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	read := 0
	i := 0
	for b.Loop() {
		from := uint64(i*7919%total + 1)
		i++
		lines, err := s.ReadLog(ctx, tk.ID, from, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(lines) == 0 || lines[0].N != from {
			b.Fatalf("read from %d: got %d lines", from, len(lines))
		}
		read += len(lines)
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "lines/s")
}

// objectValue is a realistic ~400-byte canonical JSON object.
func objectValue(kind Kind, project, name string, version int) []byte {
	v := map[string]any{
		"name":        name,
		"project":     project,
		"kind":        string(kind),
		"app":         "ansible",
		"playbook":    "playbooks/" + name + ".yml",
		"repository":  "infra",
		"inventory":   "production",
		"environment": "prod",
		"description": "Deploys " + name + " of " + project + " to the production hosts with a rolling update.",
		"vault_keys":  []string{"secret://vault/" + project + "/" + name},
		"survey":      []map[string]string{{"name": "version", "type": "string"}, {"name": "hosts", "type": "string"}},
		"timeout":     "30m",
		"version":     version,
	}
	b, _ := json.Marshal(v)
	return b
}

// fleet is the 100 projects × 100 templates declaration: ~12,000 objects.
func fleet() []Change {
	others := map[Kind]int{KindRepository: 5, KindKey: 5, KindInventory: 4, KindEnvironment: 3, KindSchedule: 3, KindIntegration: 1}
	var ch []Change
	ch = append(ch, Change{Op: OpCreate, Key: key("", KindSettings, "settings"), Value: []byte(`{"concurrency":4}`)})
	for p := range 100 {
		project := fmt.Sprintf("project-%03d", p)
		ch = append(ch, Change{Op: OpCreate, Key: key(project, KindProject, project), Value: objectValue(KindProject, project, project, 1)})
		for t := range 100 {
			name := fmt.Sprintf("template-%03d", t)
			ch = append(ch, Change{Op: OpCreate, Key: key(project, KindTemplate, name), Value: objectValue(KindTemplate, project, name, 1)})
		}
		for kind, n := range others {
			for i := range n {
				name := fmt.Sprintf("%s-%d", kind, i)
				ch = append(ch, Change{Op: OpCreate, Key: key(project, kind, name), Value: objectValue(kind, project, name, 1)})
			}
		}
	}
	return ch
}

func BenchmarkApplyRevision100x100(b *testing.B) {
	ctx := context.Background()
	all := fleet()
	size := 0
	for _, c := range all {
		size += len(c.Value)
	}
	b.Logf("%d objects, %d bytes of values (%d B each on average)", len(all), size, size/len(all))

	b.Run("first", func(b *testing.B) {
		dir := b.TempDir()
		var total time.Duration
		i := 0
		for b.Loop() {
			b.StopTimer()
			path := filepath.Join(dir, fmt.Sprintf("state-%d.db", i))
			i++
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			if err := s.ApplyRevision(ctx, Revision{ID: "first"}, all); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			b.StopTimer()
			s.Close()
			checkFile(b, path)
			b.StartTimer()
		}
		b.ReportMetric(float64(len(all))*float64(b.N)/total.Seconds(), "objects/s")
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/apply")
	})

	b.Run("1pct", func(b *testing.B) {
		s := openTest(b, nil)
		if err := s.ApplyRevision(ctx, Revision{ID: "first"}, all); err != nil {
			b.Fatal(err)
		}
		n := 0
		start := time.Now()
		for b.Loop() {
			n++
			var changes []Change
			for i := 0; i < len(all); i += 100 {
				c := all[i]
				changes = append(changes, Change{Op: OpUpdate, Key: c.Key, Value: objectValue(c.Key.Kind, c.Key.Project, c.Key.Name, n+1)})
			}
			if err := s.ApplyRevision(ctx, Revision{ID: fmt.Sprint("rev", n)}, changes); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/apply")
	})
}

func BenchmarkObjects(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, nil)
	all := fleet()
	if err := s.ApplyRevision(ctx, Revision{ID: "first"}, all); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		objs, err := s.Objects(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != len(all) {
			b.Fatalf("got %d objects, want %d", len(objs), len(all))
		}
	}
}

// BenchmarkTasksPage lists a 50-task page among 10,000 tasks of 100
// templates: by template (index), and by a status that 1 task in 100 has
// (a scan of the tasks bucket).
func BenchmarkTasksPage(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, nil)
	var in []Task
	for i := range 10000 {
		st := StatusSuccess
		if i%100 == 0 {
			st = StatusFailure
		}
		in = append(in, Task{Request: task.Request{Project: fmt.Sprintf("p%d", i%10), Template: fmt.Sprintf("t%d", i%100), Overrides: task.Overrides{Vars: map[string]any{"version": "1.2.3", "hosts": "web"}, Tags: []string{"deploy"}}}, Status: st})
	}
	insertTasks(b, s, in)
	for _, bc := range []struct {
		name string
		f    TaskFilter
		want int
	}{
		{"template", TaskFilter{Project: "p3", Template: "t43"}, 50},
		{"rare status", TaskFilter{Status: []TaskStatus{StatusFailure}}, 50},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.Tasks(ctx, bc.f, 0, 50)
				if err != nil || len(page) != bc.want {
					b.Fatalf("got %d tasks, %v", len(page), err)
				}
			}
		})
	}
}

// BenchmarkSeenDelivery is one small fsynced write transaction: the floor
// every write method pays on this disk.
func BenchmarkSeenDelivery(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, nil)
	i := 0
	for b.Loop() {
		i++
		if _, err := s.SeenDelivery(ctx, "github", fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchOutbox is the OutboxFunc of the benchmarks: one commit status per
// status change, as the reporter enqueues for a push-triggered task.
func benchOutbox(old, new Task) []OutboxEntry {
	return []OutboxEntry{{
		Kind:    OutboxCommitStatus,
		Target:  "github:acme/site@" + new.Commit + "#semaphored/" + new.Project + "/" + new.Template,
		Payload: []byte(`{"state":"pending","description":"queued","target_url":"https://ci.example.com/tasks/12345"}`),
	}}
}

// latencies collects the duration of each operation of a benchmark and
// reports their 99th percentile.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAcceptDelivery is the write on the webhook's ack path: a new
// delivery and the task it creates (with its dedupe key, its status event
// and a commit-status outbox entry), durable in one fsynced transaction,
// on a store that already holds 10,000 deliveries and tasks. "pending"
// stores an 8 KiB payload for the intake worker instead of a task.
// "parallel" runs callers from 16 goroutines back to back (saturation:
// bbolt runs one writer at a time, so the rate is the fsync rate and the
// latency is the queue). "rate=500" is the webhook target's load: a new
// caller every 2 ms, whatever the previous ones are doing (open loop), so
// its p99 is the ack latency at 500 requests/s (target: under 10 ms) and
// its ns/op is the interval.
func BenchmarkAcceptDelivery(b *testing.B) {
	payload := []byte(`{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `","commits":[` + strings.Repeat(`{"id":"0000000000000000000000000000000000000000","message":"fix"},`, 120) + `{}]}`)
	setup := func(b *testing.B) *Store {
		s := openTestOpts(b, filepath.Join(b.TempDir(), "state.db"), nil, Options{Outbox: benchOutbox})
		ctx := context.Background()
		for i := 0; i < 10000; i += 500 {
			err := s.update(ctx, func(tx *bbolt.Tx) error {
				for j := i; j < i+500; j++ {
					tk := mkTask("web", "deploy", fmt.Sprintf("github:fill-%d#web/deploy", j))
					tk.Commit = fmt.Sprintf("%040d", j)
					if _, _, err := s.acceptTx(tx, &Delivery{Source: "github", ID: fmt.Sprintf("fill-%d", j), Event: "push"}, []Task{tk}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	accept := func(b *testing.B, s *Store, i int64, pending bool) {
		d := Delivery{Source: "github", ID: fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", i), Event: "push"}
		var tasks []Task
		if pending {
			d.Pending, d.Payload = true, payload
		} else {
			tk := mkTask("web", "deploy", "github:"+d.ID+"#web/deploy")
			tk.Commit = fmt.Sprintf("%040d", i)
			tasks = []Task{tk}
		}
		_, got, isNew, err := s.AcceptDelivery(context.Background(), d, tasks)
		if err != nil || !isNew || len(got) != len(tasks) {
			b.Fatalf("AcceptDelivery = %d tasks, %v, %v", len(got), isNew, err)
		}
	}
	for _, bc := range []struct {
		name              string
		pending, parallel bool
	}{
		{"task", false, false},
		{"pending", true, false},
		{"task/parallel", false, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := setup(b)
			var (
				n   atomic.Int64
				lat latencies
			)
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						start := time.Now()
						accept(b, s, n.Add(1), bc.pending)
						lat.add(time.Since(start))
					}
				})
			} else {
				for b.Loop() {
					start := time.Now()
					accept(b, s, n.Add(1), bc.pending)
					lat.add(time.Since(start))
				}
			}
			lat.report(b)
		})
	}
	b.Run("task/rate=500", func(b *testing.B) {
		s := setup(b)
		var (
			n   atomic.Int64
			lat latencies
			wg  sync.WaitGroup
		)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		b.ResetTimer()
		for b.Loop() {
			<-tick.C
			wg.Go(func() {
				start := time.Now()
				accept(b, s, n.Add(1), false)
				lat.add(time.Since(start))
			})
		}
		wg.Wait()
		lat.report(b)
	})
}

// BenchmarkDueOutbox reads the due entries (up to 100) of an outbox
// holding 1,000 entries, half of them due and half in backoff, plus 200
// failed ones: the reporter's poll.
func BenchmarkDueOutbox(b *testing.B) {
	ctx := context.Background()
	c := newClock()
	s := openTestOpts(b, filepath.Join(b.TempDir(), "state.db"), c, Options{})
	var entries []OutboxEntry
	for i := range 1200 {
		e := OutboxEntry{Kind: OutboxCommitStatus, Target: fmt.Sprintf("github:acme/site@%040d#semaphored/web/deploy", i), TaskID: uint64(i + 1), Status: StatusSuccess,
			Payload: []byte(`{"state":"success","description":"deployed","target_url":"https://ci.example.com/tasks/12345"}`)}
		if i%2 == 1 {
			e.NextAttempt = c.Now().Add(time.Hour)
		}
		entries = append(entries, e)
	}
	if err := s.EnqueueOutbox(ctx, entries...); err != nil {
		b.Fatal(err)
	}
	for seq := uint64(1); seq <= 400; seq += 2 {
		if _, err := s.FailOutbox(ctx, seq, "422", c.Now(), true); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		due, err := s.DueOutbox(ctx, c.Now(), 100)
		if err != nil || len(due) != 100 {
			b.Fatalf("DueOutbox = %d, %v", len(due), err)
		}
	}
}

// BenchmarkOpen reopens a state file holding 10,000 tasks, 12,000 objects
// and a 100,000-line log, and reports the time and memory of Open.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.ApplyRevision(ctx, Revision{ID: "r"}, fleet()); err != nil {
		b.Fatal(err)
	}
	var in []Task
	for i := range 10000 {
		in = append(in, Task{Request: task.Request{Project: fmt.Sprintf("p%d", i%10), Template: fmt.Sprintf("t%d", i%100)}, Status: StatusSuccess})
	}
	in = insertTasks(b, s, in)
	for n := 0; n < 100_000; n += 1000 {
		if err := s.AppendLog(ctx, in[0].ID, makeLines(n, 1000, time.Now())); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
