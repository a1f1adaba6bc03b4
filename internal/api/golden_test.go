package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got, indented, with testdata/name (rewritten by -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, buf.Bytes(), want)
	}
}

// TestGoldenAnswers pins the JSON shapes scripts rely on.
func TestGoldenAnswers(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: "push", Actor: "github"}, Overrides: task.Overrides{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main", Vars: map[string]any{"env": "prod"}}}, Status: state.StatusFailure, Message: "exit status 2", ExitCode: 2, Created: at, Started: at.Add(time.Second), Ended: at.Add(90 * time.Second), LogLines: 12, LogBytes: 345})
	f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan", Trigger: task.Trigger{Type: "api"}}, Created: at.Add(time.Minute)})
	tests := []struct{ path, file string }{
		{"/api/v1/projects", "projects.json"},
		{"/api/v1/projects/web/templates", "templates.json"},
		{"/api/v1/tasks/1", "task.json"},
		{"/api/v1/tasks", "tasks.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rec := f.do(t, "GET", tt.path, adminToken, "")
			if rec.Code != 200 {
				t.Fatalf("GET %s: got %d, want 200", tt.path, rec.Code)
			}
			golden(t, tt.file, rec.Body.Bytes())
		})
	}
}
