package runner

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// seqSink checks that lines are "PREFIX<n>" with n counting from 1.
type seqSink struct {
	prefix string
	next   int
	bad    []string
}

func (s *seqSink) WriteLine(_ time.Time, line string) error {
	if len(line) > 2 && line[:2] == "$ " {
		return nil
	}
	s.next++
	if want := s.prefix + strconv.Itoa(s.next); line != want && len(s.bad) < 5 {
		s.bad = append(s.bad, fmt.Sprintf("line %d: got %q, want %q", s.next, line, want))
	}
	return nil
}

func TestOneLineRuns(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	spec := bashSpec(t, "echo \"only line $1\"\n")
	for i := range n {
		spec.Arguments = []string{strconv.Itoa(i)}
		res, sink := runSpec(t, spec)
		if res.Status != Success {
			t.Fatalf("run %d: got %+v, want success", i, res)
		}
		out := sink.output()
		if want := "only line " + strconv.Itoa(i); len(out) != 1 || out[0] != want {
			t.Fatalf("run %d: got %q, want exactly [%q]", i, out, want)
		}
	}
}

func TestManyLines(t *testing.T) {
	tests := []struct {
		name  string
		lines int
	}{
		{"5,000-line script", 5000},
		{"200,000-line job", 200000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := bashSpec(t, fmt.Sprintf("seq -f 'line %%.0f' 1 %d\n", tt.lines))
			sink := &seqSink{prefix: "line "}
			res := Run(context.Background(), spec, sink, Hooks{})
			if res.Status != Success {
				t.Fatalf("got %+v, want success", res)
			}
			if sink.next != tt.lines {
				t.Errorf("got %d lines, want %d", sink.next, tt.lines)
			}
			for _, b := range sink.bad {
				t.Error(b)
			}
		})
	}
}

// TestGigabyteBoundedMemory pipes 1 GiB of output through Run into a sink
// that counts and discards, and checks the heap does not grow with it.
func TestGigabyteBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB of output")
	}
	// 1 GiB in lines of 1,024 bytes (1,023 characters and a newline).
	spec := bashSpec(t, "yes \"$(head -c 1023 /dev/zero | tr '\\0' x)\" | head -c 1073741824\n")
	spec.Secrets = []string{"not-in-the-output"}
	sink := &countSink{}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := uint64(0)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	res := Run(context.Background(), spec, sink, Hooks{})
	close(stop)
	<-sampled
	runtime.GC()
	runtime.ReadMemStats(&after)
	if res.Status != Success {
		t.Fatalf("got %+v, want success", res)
	}
	if want := int64(1 << 20); sink.lines != want+1 { // +1: the "$ bash" line
		t.Errorf("got %d lines, want %d", sink.lines, want+1)
	}
	growth := int64(peak) - int64(before.HeapInuse)
	t.Logf("heap in use before %d KiB, peak %d KiB, after %d KiB; %d bytes total alloc",
		before.HeapInuse>>10, peak>>10, after.HeapInuse>>10, after.TotalAlloc-before.TotalAlloc)
	if growth > 16<<20 {
		t.Errorf("got heap growth %d MiB while streaming 1 GiB, want a few MiB at most", growth>>20)
	}
	if d := int64(after.HeapInuse) - int64(before.HeapInuse); d > 4<<20 {
		t.Errorf("got heap %d MiB larger after the run, want no growth", d>>20)
	}
}
