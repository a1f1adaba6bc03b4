package main

// The forge side of the fault suite: signed GitHub push deliveries into
// /hooks/github and a GitHub API fake that records the commit statuses
// semaphored posts, so the kill -9 rounds can check that every
// acknowledged delivery becomes its tasks exactly once and that every
// task's final status reaches the forge.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/semaphored/semaphored/internal/testenv"
)

// forgeRepo is the repository the push deliveries name (the fixture's).
const forgeRepo = "Codertocat/Hello-World"

// pushTemplates are the templates every push to main runs.
var pushTemplates = []string{"pushed", "pushed-too"}

// forgeConfig adds a repository on a GitHub (the fake at apiURL) with a
// push trigger on two templates to project busy. The token and the
// webhook secret are the test secret startDaemon puts in the environment.
func forgeConfig(site, apiURL string) string {
	return fmt.Sprintf(`project: busy
repositories:
  site:
    url: %s
    branch: main
    forge:
      type: github
      repo: %s
      api_url: %s
      token: {env: SEMAPHORED_TEST_SECRET}
      webhook_secret: {env: SEMAPHORED_TEST_SECRET}
templates:
  pushed:
    app: bash
    repository: site
    script: pushed.sh
    allow_overrides: [commit]
    triggers:
      push: {branches: [main]}
  pushed-too:
    app: bash
    repository: site
    script: pushed.sh
    triggers:
      push: {branches: [main]}
`, site, forgeRepo, apiURL)
}

// siteRepo makes the job repository: a script printing ten lines, then n
// more commits (one per delivery, so each task's statuses have a commit of
// their own), written in one git fast-import. It returns the directory and
// the n commits, oldest first.
func siteRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir, _ := testenv.GitRepo(t, map[string]string{"pushed.sh": "for i in $(seq 1 10); do echo \"pushed line $i\"; sleep 0.02; done\n"})
	var in bytes.Buffer
	for i := range n {
		msg := fmt.Sprintf("change %d", i)
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter Test Committer <committer@example.com> %d +0000\ndata %d\n%s\n", 1767225600+i, len(msg), msg)
		if i == 0 {
			in.WriteString("from refs/heads/main^0\n")
		}
		fmt.Fprintf(&in, "M 644 inline change.txt\ndata %d\n%s\n\n", len(msg), msg)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = testenv.GitEnv()
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, out)
	}
	testenv.Git(t, dir, "reset", "--quiet", "--hard", "main")
	shas := strings.Fields(testenv.Git(t, dir, "rev-list", "--reverse", "main"))
	return dir, shas[1:]
}

// pushBody is the fixture push (a real GitHub payload) made a push of sha
// onto main after before.
func pushBody(t *testing.T, before, sha string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "github-push.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p["ref"], p["before"], p["after"], p["created"] = "refs/heads/main", before, sha, false
	commit := p["head_commit"].(map[string]any)
	commit["id"] = sha
	commit["added"], commit["modified"] = []string{}, []string{"change.txt"}
	p["commits"] = []any{commit}
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// delivery is one push sent to /hooks/github.
type delivery struct {
	id, sha string
	body    []byte
}

// deliverPush posts d as GitHub does, signed with secret, and returns the
// answer's status and the ids of the tasks it names.
func deliverPush(ctx context.Context, url, secret string, d delivery) (int, []uint64, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/hooks/github", bytes.NewReader(d.body))
	if err != nil {
		return 0, nil, err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", d.id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Tasks  []struct {
			ID uint64 `json:"id"`
		} `json:"tasks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer %d: %w", resp.StatusCode, err)
	}
	var ids []uint64
	for _, tk := range answer.Tasks {
		ids = append(ids, tk.ID)
	}
	return resp.StatusCode, ids, nil
}

// fakeGitHub is the commit status API of a GitHub
// (POST .../repos/OWNER/REPO/statuses/SHA), recording every status.
type fakeGitHub struct {
	token string

	mu       sync.Mutex
	statuses map[string][]string // "SHA CONTEXT" → states, in arrival order
	rejected int
}

func newFakeGitHub(t *testing.T, token string) (*fakeGitHub, string) {
	f := &fakeGitHub{token: token, statuses: map[string][]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, rest, found := strings.Cut(r.URL.Path, "/repos/"+forgeRepo+"/statuses/")
	if r.Method != http.MethodPost || !found || len(rest) != 40 {
		http.NotFound(w, r)
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasSuffix(auth, " "+f.token) {
		f.mu.Lock()
		f.rejected++
		f.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	var st struct {
		State     string `json:"state"`
		TargetURL string `json:"target_url"`
		Context   string `json:"context"`
	}
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil || st.State == "" || st.Context == "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"message":"Validation Failed"}`)
		return
	}
	f.mu.Lock()
	f.statuses[rest+" "+st.Context] = append(f.statuses[rest+" "+st.Context], st.State)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"id": 1, "state": st.State, "context": st.Context, "target_url": st.TargetURL})
}

// states returns the states posted for sha and context.
func (f *fakeGitHub) states(sha, context string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.statuses[sha+" "+context]...)
}

// commitState is the GitHub state a task's final status is reported as.
func commitState(status string) string {
	switch status {
	case "success":
		return "success"
	case "failure":
		return "failure"
	}
	return "error" // error, interrupted, stopped
}
