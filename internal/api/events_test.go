package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/state"
)

// eventsStore opens a real state whose event log holds, per revision, one
// config event for each of the projects web and db, and the revision's.
func eventsStore(t *testing.T, revisions int) *state.Store {
	t.Helper()
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range revisions {
		rev := state.Revision{ID: fmt.Sprintf("rev%03d", i), Source: "test", Valid: true, Seen: time.Now()}
		op := state.OpCreate
		if i > 0 {
			op = state.OpUpdate
		}
		changes := []state.Change{
			{Op: op, Key: state.ObjectKey{Project: "web", Kind: state.KindTemplate, Name: "deploy"}, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))},
			{Op: op, Key: state.ObjectKey{Project: "db", Kind: state.KindTemplate, Name: "backup"}, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))},
		}
		if err := s.ApplyRevision(context.Background(), rev, changes); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func getEvents(t *testing.T, h http.Handler, token, path string) ([]map[string]any, string, int) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out []map[string]any
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return out, rec.Header().Get("Link"), rec.Code
}

func TestEventsFiltersAndPaging(t *testing.T) {
	s := eventsStore(t, 40)
	h, err := api.New(api.Options{
		Engine: &apitest.Engine{Store: apitest.NewStore()}, Store: s, Config: apitest.NewConfig(testConfig()),
		Secrets:    &apitest.Secrets{Values: map[string]string{"WEB_TOKEN": webToken}},
		AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	all, _, code := getEvents(t, h, adminToken, "/api/v1/events?limit=1000")
	if code != http.StatusOK || len(all) == 0 {
		t.Fatalf("got %d, %d events", code, len(all))
	}
	// Page through web's config events with the Link header.
	var got []map[string]any
	path := "/api/v1/events?type=config&project=web&limit=7"
	for pages := 0; path != ""; pages++ {
		page, link, code := getEvents(t, h, adminToken, path)
		if code != http.StatusOK || pages > 20 {
			t.Fatalf("page %d: status %d", pages, code)
		}
		got = append(got, page...)
		path = ""
		if strings.Contains(link, `rel="next"`) {
			path = link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
		}
	}
	if len(got) != 40 {
		t.Fatalf("got %d web config events, want 40", len(got))
	}
	var last float64
	for _, e := range got {
		key := e["key"].(map[string]any)
		if e["type"] != "config" || key["project"] != "web" || e["seq"].(float64) <= last {
			t.Fatalf("event %v after seq %v", e, last)
		}
		last = e["seq"].(float64)
	}
	revs, _, _ := getEvents(t, h, adminToken, "/api/v1/events?type=revision&limit=1000")
	if len(revs) != 40 {
		t.Errorf("got %d revision events, want 40", len(revs))
	}
	// The end of the log links to what comes next.
	tail, link, _ := getEvents(t, h, adminToken, fmt.Sprintf("/api/v1/events?after=%d", int(all[len(all)-1]["seq"].(float64))))
	if len(tail) != 0 || !strings.Contains(link, `rel="follow"`) {
		t.Errorf("tail: %d events, link %q", len(tail), link)
	}
	// A token limited to web sees web's events only, and not db's.
	web, _, code := getEvents(t, h, webToken, "/api/v1/events?limit=1000")
	if code != http.StatusOK || len(web) != 40 {
		t.Errorf("web token: got %d, %d events, want 40", code, len(web))
	}
	// Another project is not found, as for its tasks.
	if _, _, code := getEvents(t, h, webToken, "/api/v1/events?project=db"); code != http.StatusNotFound {
		t.Errorf("web token on db: got %d, want 404", code)
	}
	for _, bad := range []string{"?after=x", "?limit=0", "?task=-1", "?limit=1001"} {
		if _, _, code := getEvents(t, h, adminToken, "/api/v1/events"+bad); code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", bad, code)
		}
	}
}

// TestDeliveryEvents checks that the deliveries the state records appear
// in the event log, found by source and delivery id, and that a token
// limited to web sees a delivery of web's tasks but not one of db's.
func TestDeliveryEvents(t *testing.T) {
	ctx := context.Background()
	s := eventsStore(t, 1)
	accept := func(source, id string, projects ...string) {
		t.Helper()
		var tasks []state.Task
		for _, p := range projects {
			var tk state.Task
			tk.Project, tk.Template = p, "deploy"
			tasks = append(tasks, tk)
		}
		d := state.Delivery{Source: source, ID: id, Event: "push", Note: "tasks for " + strings.Join(projects, ", ")}
		if _, _, _, err := s.AcceptDelivery(ctx, d, tasks); err != nil {
			t.Fatal(err)
		}
	}
	accept("github", "gh-1", "web")
	accept("gitlab", "gl-1", "db")
	h, err := api.New(api.Options{
		Engine: &apitest.Engine{Store: apitest.NewStore()}, Store: s, Config: apitest.NewConfig(testConfig()),
		Secrets:    &apitest.Secrets{Values: map[string]string{"WEB_TOKEN": webToken}},
		AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, query string
		want               []string // delivery ids, in order
	}{
		{"all deliveries", adminToken, "type=delivery", []string{"gh-1", "gl-1"}},
		{"by source", adminToken, "source=gitlab", []string{"gl-1"}},
		{"by delivery id", adminToken, "delivery=gh-1", []string{"gh-1"}},
		{"by project", adminToken, "type=delivery&project=db", []string{"gl-1"}},
		{"a web token sees web's", webToken, "type=delivery", []string{"gh-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, code := getEvents(t, h, tc.token, "/api/v1/events?"+tc.query)
			if code != http.StatusOK {
				t.Fatalf("got status %d", code)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, fmt.Sprint(e["delivery"]))
				if e["message"] == "" || e["task_ids"] == nil {
					t.Errorf("event %v has no message or tasks", e)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got deliveries %v, want %v", ids, tc.want)
			}
		})
	}
}
