package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
)

// TestBackup downloads the state of a real store over a real connection
// while a writer keeps adding tasks, and opens the copy.
func TestBackup(t *testing.T) {
	s := openStore(t, 40, 300)
	cfg := testConfig()
	cfg.Settings.APITokens["web-admin"] = &config.APIToken{Name: "web-admin", Token: config.Secret{Env: "WEB_ADMIN"}, Scope: config.ScopeAdmin, Projects: []string{"web"}}
	h, err := api.New(api.Options{
		Engine:     &apitest.Engine{Store: apitest.NewStore()},
		Store:      s,
		Config:     apitest.NewConfig(cfg),
		Secrets:    &apitest.Secrets{Values: map[string]string{"RUN_TOKEN": runToken, "WEB_ADMIN": "web-admin-token"}},
		AdminToken: adminToken,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	fetch := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/backup", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"run scope", runToken, http.StatusForbidden},
		{"admin of one project", "web-admin-token", http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
	} {
		resp := fetch(tt.token)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}

	// Writers carry on during the copy.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var tk state.Task // fields set one by one, whatever the layout of state.Task
		tk.Project, tk.Template = "web", "deploy"
		for ctx.Err() == nil {
			if _, err := s.CreateTask(ctx, tk); err != nil && ctx.Err() == nil {
				t.Errorf("create task during backup: %v", err)
				return
			}
		}
	}()
	resp := fetch(adminToken)
	path := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), resp.Body)
	resp.Body.Close()
	f.Close()
	cancel()
	<-done
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: status %d, copy error %v", resp.StatusCode, err)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type: got %q", got)
	}
	if got := resp.Trailer.Get(api.BackupBytesTrailer); got != strconv.FormatInt(n, 10) {
		t.Errorf("bytes trailer: got %q, want %d", got, n)
	}
	if got := resp.Trailer.Get(api.BackupSHA256Trailer); got != hex.EncodeToString(sum.Sum(nil)) {
		t.Errorf("sha256 trailer: got %q, want the digest of the body", got)
	}
	c, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer c.Close()
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("the copy is not consistent: %v", err)
	}
	if _, err := c.Task(context.Background(), 40); err != nil {
		t.Errorf("task 40 missing from the copy: %v", err)
	}
	lines, err := c.ReadLog(context.Background(), 1, 0, 1000)
	if err != nil || len(lines) != 300 {
		t.Errorf("log of task 1 in the copy: got %d lines, err %v; want 300", len(lines), err)
	}
}
