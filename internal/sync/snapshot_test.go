package sync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// mustNew returns a syncer or fails the test.
func mustNew(t testing.TB, opts Options) *Syncer {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRegistersMetricsOnce(t *testing.T) {
	reg := prom.NewRegistry()
	mustNew(t, Options{Source: &DirSource{Dir: t.TempDir()}, Store: openStore(t), Registerer: reg})
	if _, err := New(Options{Source: &DirSource{Dir: t.TempDir()}, Store: openStore(t), Registerer: reg}); err == nil {
		t.Fatal("second New on one registerer: got nil error, want the registration error")
	}
}

func TestSnapshotAndSubscribers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: openStore(t)})
	if got := s.Snapshot(); got != (config.Snapshot{}) {
		t.Fatalf("snapshot before any revision: got %+v, want zero", got)
	}
	var a, b []string
	cancelA := s.Subscribe(func(sn config.Snapshot) { a = append(a, sn.Revision) })
	s.Subscribe(func(sn config.Snapshot) { b = append(b, sn.Revision) })
	if len(a) != 0 {
		t.Fatalf("a subscriber was called before any revision: %v", a)
	}
	res, err := s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := res.Revision.ID
	snap := s.Snapshot()
	if snap.Config == nil || snap.Revision != first || snap.Root != dir {
		t.Fatalf("snapshot: got revision %q root %q config %v, want %q %q non-nil", snap.Revision, snap.Root, snap.Config != nil, first, dir)
	}
	// A late subscriber gets the active revision at once.
	var late []string
	s.Subscribe(func(sn config.Snapshot) { late = append(late, sn.Revision) })
	cancelA()
	writeFiles(t, dir, map[string]string{"demo.yaml": strings.Replace(demoYAML, "a demo", "changed", 1)})
	res, err = s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := res.Revision.ID
	if !slices.Equal(a, []string{first}) {
		t.Errorf("cancelled subscriber: got %v, want [%s]", a, first)
	}
	if !slices.Equal(b, []string{first, second}) {
		t.Errorf("subscriber: got %v, want [%s %s]", b, first, second)
	}
	if !slices.Equal(late, []string{first, second}) {
		t.Errorf("late subscriber: got %v, want [%s %s]", late, first, second)
	}
}

// TestRestoreKeepsRoot restarts on a broken and on a missing config
// directory: the last good revision is restored with its root, so
// relative repository paths ("url: .") still resolve; the failed read is
// logged and shows in semaphored_config_source_up.
func TestRestoreKeepsRoot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breakDir func(t *testing.T, dir string)
		up       float64
	}{
		{"broken", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"demo.yaml": "project: demo\nbogus: 1\n"})
		}, 1},
		{"missing", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "config")
			writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
			path := filepath.Join(t.TempDir(), "state.db")
			st, err := state.Open(path, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
			res, err := s.Sync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()

			tc.breakDir(t, dir)
			st, err = state.Open(path, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			reg := prom.NewRegistry()
			s = mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st, Registerer: reg})
			var got []config.Snapshot
			s.Subscribe(func(sn config.Snapshot) { got = append(got, sn) })
			if err := s.Restore(ctx); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Revision != res.Revision.ID || got[0].Root != dir || got[0].Config == nil {
				t.Fatalf("restored snapshots: got %+v, want one of revision %s with root %s", got, res.Revision.ID, dir)
			}
			if _, err := s.Sync(ctx); err == nil {
				t.Fatal("sync of the broken source: got nil error")
			}
			if sn := s.Snapshot(); sn.Revision != res.Revision.ID || sn.Root != dir {
				t.Fatalf("after the failed pass: got revision %s root %s, want %s %s", sn.Revision, sn.Root, res.Revision.ID, dir)
			}
			if v := gauge(t, reg, "semaphored_config_source_up"); v != tc.up {
				t.Errorf("semaphored_config_source_up: got %v, want %v", v, tc.up)
			}
		})
	}
}

// gauge reads the value of an unlabelled gauge from reg.
func gauge(t *testing.T, reg *prom.Registry, name string) float64 {
	t.Helper()
	for _, mf := range reg.Gather() {
		if mf.Name == name && len(mf.Series) == 1 {
			return mf.Series[0].Value
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
