package state

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
