package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
	"github.com/semaphored/semaphored/internal/testenv"
)

const demoYAML = `project: demo
description: a demo
repositories:
  app:
    url: .
templates:
  hello:
    app: bash
    repository: app
    script: hello.sh
    timeout: 5m
`

func openStore(t testing.TB) *state.Store {
	t.Helper()
	st := statetest.Open(t, "", state.Options{})
	return st
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyncDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	st := openStore(t)
	applied := 0
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
	defer s.Subscribe(func(config.Snapshot) { applied++ })()

	res, err := s.Sync(ctx)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if got := ops(res.Changes); got != "create:settings/settings create:demo/project/demo create:demo/repository/app create:demo/template/hello" {
		t.Fatalf("first sync changes: got %s", got)
	}
	first := s.Active()
	if first == nil || first.Config.Projects["demo"].Templates["hello"] == nil {
		t.Fatalf("active config after first sync: got %+v", first)
	}

	// Nothing moved: nothing is read or written.
	if res, err := s.Sync(ctx); err != nil || !res.Unchanged {
		t.Fatalf("second sync: got %+v, %v; want unchanged", res, err)
	}

	// Touch without changing content: a new head, but the same revision.
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "demo.yaml"), later, later)
	if res, err := s.Sync(ctx); err != nil || !res.Unchanged {
		t.Fatalf("sync after touch: got %+v, %v; want unchanged", res, err)
	}

	// A change and an addition.
	writeFiles(t, dir, map[string]string{
		"demo.yaml": strings.Replace(demoYAML, "timeout: 5m", "timeout: 10m", 1),
		"more.yaml": "project: demo\ntemplates:\n  bye:\n    app: python\n    repository: app\n    script: bye.py\n",
	})
	res, err = s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res.Changes); got != "create:demo/template/bye update:demo/template/hello" {
		t.Fatalf("changes: got %s", got)
	}

	// An invalid revision is recorded and the last good one stays.
	good := s.Active()
	writeFiles(t, dir, map[string]string{"more.yaml": "project: demo\ntemplates:\n  bye:\n    app: cobol\n"})
	_, err = s.Sync(ctx)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid revision: got %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "more.yaml:4:10") {
		t.Errorf("invalid revision error does not name file:line:col: %v", err)
	}
	if s.Active() != good {
		t.Fatal("an invalid revision replaced the active config")
	}
	last, _, _ := st.LastRevision(ctx)
	active, _, _ := st.ActiveRevision(ctx)
	if last.Valid || len(last.Errors) == 0 || active.ID != good.Revision.ID {
		t.Fatalf("state after invalid revision: last %+v, active %+v", last, active)
	}
	objs, _ := st.Objects(ctx)
	if len(objs) != 5 {
		t.Fatalf("objects after invalid revision: got %d, want 5 (nothing applied)", len(objs))
	}
	// The same invalid content again is not recorded twice.
	os.Chtimes(filepath.Join(dir, "more.yaml"), later.Add(time.Minute), later.Add(time.Minute))
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("same invalid revision again: got %v", err)
	}
	revs, _ := st.Revisions(ctx, 10)
	if len(revs) != 3 {
		t.Fatalf("revisions: got %d, want 3 (2 applied, 1 rejected)", len(revs))
	}

	// Removing the file prunes what it declared.
	os.Remove(filepath.Join(dir, "more.yaml"))
	res, err = s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res.Changes); got != "delete:demo/template/bye" {
		t.Fatalf("prune: got %s", got)
	}
	if applied != 3 {
		t.Fatalf("subscriber calls: got %d, want 3", applied)
	}
}

func ops(changes []state.Change) string {
	var parts []string
	for _, c := range changes {
		k := c.Key
		if k.Project == "" {
			parts = append(parts, fmt.Sprintf("%s:%s/%s", c.Op, k.Kind, k.Name))
		} else {
			parts = append(parts, fmt.Sprintf("%s:%s/%s/%s", c.Op, k.Project, k.Kind, k.Name))
		}
	}
	return strings.Join(parts, " ")
}

func TestRestoreAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := Objects(s.Active().Config)
	st.Close()

	// The source turns invalid while the daemon is down.
	writeFiles(t, dir, map[string]string{"demo.yaml": "project: demo\nbogus: 1\n"})
	st, err = state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s = mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Active() == nil {
		t.Fatal("no active config after restore")
	}
	got, _ := Objects(s.Active().Config)
	if len(got) != len(want) {
		t.Fatalf("restored objects: got %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("restored object %v differs:\ngot  %s\nwant %s", got[i].Key, got[i].Value, want[i].Value)
		}
	}
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("sync of invalid source after restore: got %v", err)
	}
	if s.Active() == nil || s.Active().Config.Projects["demo"].Templates["hello"] == nil {
		t.Fatal("the restored config was replaced by an invalid one")
	}
}

func TestSyncGit(t *testing.T) {
	ctx := context.Background()
	repo, sha1 := testenv.GitRepo(t, map[string]string{"config/demo.yaml": demoYAML, "README": "config repo\n"})
	work := t.TempDir()
	src := &GitSource{
		URL: "file://" + repo, Branch: "main", Subdir: "config",
		Cache: gitcache.New(filepath.Join(work, "git"), gitcache.Options{}), WorkDir: filepath.Join(work, "config"),
	}
	st := openStore(t)
	s := mustNew(t, Options{Source: src, Store: st})
	res, err := s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision.ID != sha1 || len(res.Changes) != 4 {
		t.Fatalf("first sync: got revision %s with %d changes, want %s with 4", res.Revision.ID, len(res.Changes), sha1)
	}
	if res, err := s.Sync(ctx); err != nil || !res.Unchanged {
		t.Fatalf("resync at the same head: got %+v, %v", res, err)
	}
	sha2 := testenv.GitCommit(t, repo, map[string]string{"config/demo.yaml": strings.Replace(demoYAML, "a demo", "the demo", 1)}, "describe")
	res, err = s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision.ID != sha2 || ops(res.Changes) != "update:demo/project/demo" || res.Revision.Message != "describe" {
		t.Fatalf("second commit: got %s %q %s", res.Revision.ID, res.Revision.Message, ops(res.Changes))
	}
	if got := s.Active().Base; got != filepath.Join(work, "config", sha2) {
		t.Fatalf("active base: got %s", got)
	}
	// An invalid commit keeps the last good revision.
	testenv.GitCommit(t, repo, map[string]string{"config/demo.yaml": "project: demo\ntemplates: 3\n"}, "break it")
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid commit: got %v", err)
	}
	if s.Active().Revision.ID != sha2 {
		t.Fatalf("active revision after invalid commit: got %s, want %s", s.Active().Revision.ID, sha2)
	}
}

func TestRunWatchesDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	st := openStore(t)
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st, Debounce: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	testenv.WaitFor(t, "first revision", 0, func() bool { return s.Active() != nil })
	first := s.Active().Revision.ID
	writeFiles(t, dir, map[string]string{"sub/extra.yaml": "project: other\n"})
	testenv.WaitFor(t, "the new file to be applied", 0, func() bool {
		a := s.Active()
		return a.Revision.ID != first && a.Config.Projects["other"] != nil
	})
}

func TestPlanOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	st := openStore(t)
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"demo.yaml": strings.Replace(strings.Replace(demoYAML, "timeout: 5m", "timeout: 10m\n    concurrency: 2", 1), "a demo", "the demo", 1) +
		"  bye:\n    app: bash\n    repository: app\n    script: bye.sh\n"})
	changes, stored, err := Plan(ctx, &DirSource{Dir: dir}, st, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePlan(&buf, changes, stored); err != nil {
		t.Fatal(err)
	}
	want := `~ project demo (description)
+ template demo/bye
~ template demo/hello (concurrency, timeout)
Plan: 1 to create, 2 to change, 0 to prune.
`
	if buf.String() != want {
		t.Fatalf("plan output:\ngot\n%s\nwant\n%s", buf.String(), want)
	}
	// Nothing was applied.
	if objs, _ := st.Objects(ctx); len(objs) != 4 {
		t.Fatalf("plan applied something: %d objects", len(objs))
	}
}

// TestSyncGitHTTPToken syncs a config repository served by the real
// git-http-backend behind basic auth, with the token the daemon reads from
// $SEMAPHORED_CONFIG_TOKEN; a wrong token fails without leaking it and
// keeps the active revision.
func TestSyncGitHTTPToken(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	repo, sha := testenv.GitRepo(t, map[string]string{"demo.yaml": demoYAML})
	if err := os.Rename(repo, filepath.Join(root, "config.git")); err != nil {
		t.Fatal(err)
	}
	base := testenv.GitHTTPServer(t, root, testenv.WithBasicAuth("x-access-token", "tok-123"))
	work := t.TempDir()
	src := &GitSource{
		URL: base + "/config.git", Branch: "main", Auth: gitcache.Auth{Token: "tok-123"},
		Cache: gitcache.New(filepath.Join(work, "git"), gitcache.Options{}), WorkDir: filepath.Join(work, "config"),
	}
	s := mustNew(t, Options{Source: src, Store: openStore(t)})
	res, err := s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision.ID != sha {
		t.Fatalf("revision: got %s, want %s", res.Revision.ID, sha)
	}
	testenv.GitCommit(t, filepath.Join(root, "config.git"), map[string]string{"more.yaml": "project: more\n"}, "more")
	src.Auth.Token = "wrong-token-456"
	_, err = s.Sync(ctx)
	if err == nil || strings.Contains(err.Error(), "wrong-token-456") {
		t.Fatalf("sync with a wrong token: got %v; want an error without the token", err)
	}
	if s.Active().Revision.ID != sha {
		t.Fatal("a failed fetch changed the active revision")
	}
}
