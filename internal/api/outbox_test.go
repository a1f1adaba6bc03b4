package api_test

import (
	"context"
	"encoding/json"
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

// TestOutbox: GET /api/v1/outbox answers the pending count and the failed
// entries with the forge's message and without their payloads, to an
// admin token for every project only.
func TestOutbox(t *testing.T) {
	ctx := context.Background()
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for _, target := range []string{"github:acme/site@a#semaphored/web/deploy", "github:acme/site@b#semaphored/web/deploy", "slack:web/ops"} {
		e := state.OutboxEntry{Kind: state.OutboxCommitStatus, Target: target, TaskID: 7, Status: state.StatusFailure,
			Payload: []byte(`{"token":{"env":"GITHUB_TOKEN"}}`), Created: now, NextAttempt: now}
		if err := s.EnqueueOutbox(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueOutbox(ctx, now.Add(time.Second), 0)
	if err != nil || len(due) != 3 {
		t.Fatalf("due: %v, %v", due, err)
	}
	if _, err := s.FailOutbox(ctx, due[1].Seq, "422 Unprocessable Entity: No commit found for SHA: b", time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{
		Engine: &apitest.Engine{Store: apitest.NewStore()}, Store: s, Config: apitest.NewConfig(testConfig()),
		Secrets:    &apitest.Secrets{Values: map[string]string{"READ_TOKEN": readToken, "WEB_TOKEN": webToken}},
		AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(token, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/outbox"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get(adminToken, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("admin: got %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "GITHUB_TOKEN") {
		t.Errorf("answer carries a payload: %s", rec.Body)
	}
	var got api.Outbox
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Pending != 2 || len(got.Failed) != 1 {
		t.Fatalf("got %+v, want 2 pending and 1 failed", got)
	}
	if f := got.Failed[0]; f.Target != "github:acme/site@b#semaphored/web/deploy" || f.Attempts != 1 || !strings.Contains(f.Error, "No commit found") || f.TaskID != 7 || f.Kind != "commit_status" {
		t.Errorf("failed entry = %+v", f)
	}
	for _, tc := range []struct {
		name, token, query string
		want               int
	}{
		{"read scope", readToken, "", http.StatusForbidden},
		{"project-limited", webToken, "", http.StatusForbidden},
		{"bad limit", adminToken, "?limit=0", http.StatusBadRequest},
		{"no token", "", "", http.StatusUnauthorized},
	} {
		if rec := get(tc.token, tc.query); rec.Code != tc.want {
			t.Errorf("%s: got %d, want %d (%s)", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}
