package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

// memSink stores every line; it optionally signals when a line containing
// a marker arrives.
type memSink struct {
	mu     sync.Mutex
	lines  []string
	times  []time.Time
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newMemSink(marker string) *memSink {
	return &memSink{marker: marker, seen: make(chan struct{})}
}

// startJob runs spec in the background, writing to sink, and waits until
// sink has seen its marker, failing t with failure after within. The
// Result arrives on the returned channel.
func startJob(t testing.TB, ctx context.Context, spec Spec, sink *memSink, within time.Duration, failure string) <-chan Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, spec, sink, Hooks{}) }()
	select {
	case <-sink.seen:
	case <-time.After(within):
		t.Fatal(failure)
	}
	return done
}

func (s *memSink) WriteLine(t time.Time, line string) error {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.times = append(s.times, t)
	s.mu.Unlock()
	if s.marker != "" && strings.Contains(line, s.marker) {
		s.once.Do(func() { close(s.seen) })
	}
	return nil
}

func (s *memSink) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// output returns the lines the process wrote, without the runner's
// "$ command" lines.
func (s *memSink) output() []string {
	var out []string
	for _, l := range s.Lines() {
		if !strings.HasPrefix(l, "$ ") {
			out = append(out, l)
		}
	}
	return out
}

func (s *memSink) joined() string { return strings.Join(s.Lines(), "\n") }

// countSink counts lines and bytes and discards them.
type countSink struct {
	lines, bytes int64
}

func (s *countSink) WriteLine(_ time.Time, line string) error {
	s.lines++
	s.bytes += int64(len(line))
	return nil
}

// scriptSpec returns a Spec running the given script text with app in
// fresh temporary directories.
func scriptSpec(t testing.TB, app config.App, name, text string) Spec {
	t.Helper()
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Spec{
		App:        app,
		RepoDir:    repo,
		PrivateDir: filepath.Join(t.TempDir(), "private"),
		CacheDir:   filepath.Join(t.TempDir(), "cache"),
		Entry:      name,
		Grace:      2 * time.Second,
	}
}

func bashSpec(t testing.TB, text string) Spec {
	return scriptSpec(t, config.AppBash, "job.sh", text)
}

func runSpec(t testing.TB, spec Spec) (Result, *memSink) {
	t.Helper()
	sink := newMemSink("")
	res := Run(context.Background(), spec, sink, Hooks{})
	return res, sink
}
