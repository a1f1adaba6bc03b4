package report_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/sync"
)

// TestNotificationsSurviveRestore: notifications are stored with the other
// objects of a revision, so the config restored from the state at start
// still sends them.
func TestNotificationsSurviveRestore(t *testing.T) {
	b, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.ReplaceAll(string(b), "FORGE_URL", "https://api.example.com")
	cfg, err := config.LoadFS(fstest.MapFS{"web.yaml": {Data: []byte(y)}}, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := sync.Objects(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := sync.FromObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	got, want := back.Projects["web"].Notifications, cfg.Projects["web"].Notifications
	if len(got) != 2 {
		t.Fatalf("restored %d notifications, want 2", len(got))
	}
	for name, n := range want {
		g := *got[name]
		w := *n
		g.Pos, w.Pos = config.Pos{}, config.Pos{}
		if g.URL != nil {
			g.URL.Pos = config.Pos{}
		}
		if w.URL != nil {
			c := *w.URL
			c.Pos = config.Pos{}
			w.URL = &c
		}
		if g.Secret != nil {
			g.Secret.Pos = config.Pos{}
		}
		if w.Secret != nil {
			c := *w.Secret
			c.Pos = config.Pos{}
			w.Secret = &c
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: restored %+v, want %+v", name, g, w)
		}
	}
}
