package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

func TestCmdEvents(t *testing.T) {
	for _, k := range []string{"SEMAPHORED_SERVER", "SEMAPHORED_TOKEN", "SEMAPHORED_DATA"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	apply := func(i int) {
		rev := state.Revision{ID: fmt.Sprintf("rev%d", i), Source: "test", Valid: true, Seen: time.Now()}
		op := state.OpCreate
		if i > 0 {
			op = state.OpUpdate
		}
		ch := []state.Change{{Op: op, Key: state.ObjectKey{Project: "web", Kind: state.KindTemplate, Name: "deploy"}, Value: []byte(fmt.Sprint(i))}}
		if err := s.ApplyRevision(context.Background(), rev, ch); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		apply(i)
	}
	cfg := &config.Config{Projects: map[string]*config.Project{"web": {Name: "web"}}}
	h, err := api.New(api.Options{Engine: &apitest.Engine{Store: apitest.NewStore()}, Store: s, Config: apitest.NewConfig(cfg), AdminToken: cliToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	out, stderr, code := runCLI(t, "events", "--type", "config", "--server", srv.URL, "--token", cliToken)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "config") || !strings.Contains(lines[0], "create web/template deploy") || !strings.Contains(lines[2], "update web/template deploy") {
		t.Errorf("got\n%s", out)
	}
	out, _, _ = runCLI(t, "events", "--json", "--type", "revision", "--server", srv.URL, "--token", cliToken)
	if n := strings.Count(out, "\n"); n != 3 || !strings.Contains(out, `"type":"revision"`) {
		t.Errorf("json: got\n%s", out)
	}

	// -f prints what comes later, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	var buf testenv.LockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"events", "-f", "--interval", "10ms", "--type", "config", "--server", srv.URL, "--token", cliToken}, &buf, &buf)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	apply(3)
	for strings.Count(buf.String(), "\n") < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("events -f: %v", err)
	}
	if got := strings.Count(buf.String(), "\n"); got != 4 {
		t.Errorf("events -f printed %d lines, want 4:\n%s", got, buf.String())
	}
}
