package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
)

// writeBigTree writes projects × templates declarations, one file per
// project, with the other kinds a real project has.
func writeBigTree(tb testing.TB, dir string, projects, templates int) {
	tb.Helper()
	for p := range projects {
		var b strings.Builder
		fmt.Fprintf(&b, "project: p%03d\ndescription: project %d\nmax_parallel_tasks: 4\n", p, p)
		b.WriteString("repositories:\n  app:\n    url: git@git.example.com:org/app.git\n    branch: main\n    key: deploy\n")
		b.WriteString("keys:\n  deploy:\n    type: ssh\n    private_key: {env: DEPLOY_KEY}\n")
		b.WriteString("inventories:\n  prod:\n    type: static\n    static: |\n      [web]\n      web1.example.com\n      web2.example.com\n")
		b.WriteString("environments:\n  prod:\n    vars: {region: eu-west-1, replicas: 3}\n    env: {LOG_LEVEL: info}\n    secrets:\n      env: {DB_PASSWORD: {env: DB_PASSWORD}}\n")
		b.WriteString("templates:\n")
		for t := range templates {
			fmt.Fprintf(&b, "  t%03d:\n    app: ansible\n    repository: app\n    playbook: playbooks/site-%d.yml\n    inventory: prod\n    environment: prod\n    timeout: 30m\n    arguments: [--forks, \"10\"]\n    ansible: {tags: [deploy], diff: true}\n    triggers:\n      push: {branches: [main], paths: [\"playbooks/**\"]}\n", t, t)
		}
		b.WriteString("schedules:\n  nightly:\n    cron: \"0 3 * * *\"\n    timezone: Europe/Berlin\n    template: t000\n")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%03d.yaml", p)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLoadValidateDiff100x100 measures a sync pass up to the apply:
// read, load and validate 100 projects × 100 templates, flatten to objects
// and diff against a state holding the previous revision.
func BenchmarkLoadValidateDiff100x100(b *testing.B) {
	dir := b.TempDir()
	writeBigTree(b, dir, 100, 100)
	src := &DirSource{Dir: dir}
	ctx := context.Background()
	cfg, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	stored, _ := Objects(cfg)
	b.ResetTimer()
	for b.Loop() {
		tree, err := src.Open(ctx, Head{})
		if err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Load(tree.Root, config.LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		desired, err := Objects(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if changes := Diff(desired, stored); len(changes) != 0 {
			b.Fatalf("%d changes", len(changes))
		}
	}
}

// BenchmarkApply100x100 applies the first revision of 100 × 100 (every
// object a create) to a fresh state file, in one transaction.
func BenchmarkApply100x100(b *testing.B) {
	dir := b.TempDir()
	writeBigTree(b, dir, 100, 100)
	cfg, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	desired, _ := Objects(cfg)
	changes := Diff(desired, nil)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		st, err := state.Open(filepath.Join(b.TempDir(), fmt.Sprintf("s%d.db", i)), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := st.ApplyRevision(ctx, state.Revision{ID: "r1", Valid: true}, changes); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(changes)), "objects")
}

// BenchmarkNoopResync is a sync pass when the head did not move: 100
// project files are fingerprinted and nothing else happens.
func BenchmarkNoopResync(b *testing.B) {
	dir := b.TempDir()
	writeBigTree(b, dir, 100, 100)
	st, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := mustNew(b, Options{Source: &DirSource{Dir: dir}, Store: st})
	ctx := context.Background()
	if _, err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := s.Sync(ctx)
		if err != nil || !res.Unchanged {
			b.Fatalf("got %+v, %v", res, err)
		}
	}
}
