package forge

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// statusClient is what the suite drives; every forge's client has it.
type statusClient interface {
	SetStatus(ctx context.Context, st Status) error
}

const testToken = "s3cr3t-token-value"

// forgeCase describes one forge for the shared suite: how to build its
// client, the request it must send, and how it words an error.
type forgeCase struct {
	name string
	// apiPath is the prefix the client must add to the server URL.
	apiPath string
	newc    func(url, token string) (statusClient, error)
	// path is the request path for repo and sha (decoded form).
	path func(repo, sha string) string
	// rawPath is the escaped path as sent on the wire ("" = same as path).
	rawPath func(repo, sha string) string
	auth    func(r *http.Request) string
	// decode returns state, context, description, target_url of a body.
	decode func(t *testing.T, body []byte) (string, string, string, string)
	// errBody is the forge's error document for msg.
	errBody func(msg string) string
	// states maps our states to the forge's.
	states map[State]string
	// created is the 201 body.
	created string
}

func forgeCases() []forgeCase {
	return []forgeCase{
		{
			name:    "github",
			apiPath: "/api/v3",
			newc: func(u, tok string) (statusClient, error) {
				return NewGitHubStatus(u+"/api/v3/", tok, nil)
			},
			path: func(repo, sha string) string { return "/api/v3/repos/" + repo + "/statuses/" + sha },
			auth: func(r *http.Request) string {
				return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			},
			decode: func(t *testing.T, b []byte) (string, string, string, string) {
				var v struct{ State, Context, Description, TargetURL string }
				var raw map[string]any
				if err := json.Unmarshal(b, &raw); err != nil {
					t.Fatalf("body %s: %v", b, err)
				}
				v.State, _ = raw["state"].(string)
				v.Context, _ = raw["context"].(string)
				v.Description, _ = raw["description"].(string)
				v.TargetURL, _ = raw["target_url"].(string)
				return v.State, v.Context, v.Description, v.TargetURL
			},
			errBody: func(msg string) string {
				return `{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","message":"` + msg + `"}],"documentation_url":"https://docs.github.com/rest/commits/statuses#create-a-commit-status","status":"422"}`
			},
			states: map[State]string{StatePending: "pending", StateRunning: "pending", StateSuccess: "success",
				StateFailure: "failure", StateError: "error", StateCanceled: "error"},
			created: `{"url":"https://api.github.com/repos/acme/site/statuses/x","id":1,"state":"success","context":"c","created_at":"2026-12-01T00:00:00Z"}`,
		},
		{
			name:    "gitlab",
			apiPath: "/api/v4",
			newc: func(u, tok string) (statusClient, error) {
				return NewGitLabStatus(u, tok, nil)
			},
			path: func(repo, sha string) string { return "/api/v4/projects/" + repo + "/statuses/" + sha },
			rawPath: func(repo, sha string) string {
				return "/api/v4/projects/" + strings.ReplaceAll(repo, "/", "%2F") + "/statuses/" + sha
			},
			auth: func(r *http.Request) string { return r.Header.Get("PRIVATE-TOKEN") },
			decode: func(t *testing.T, b []byte) (string, string, string, string) {
				var v struct {
					State, Name, Description string
					TargetURL                string `json:"target_url"`
				}
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatalf("body %s: %v", b, err)
				}
				return v.State, v.Name, v.Description, v.TargetURL
			},
			errBody: func(msg string) string { return `{"message":"` + msg + `"}` },
			states: map[State]string{StatePending: "pending", StateRunning: "running", StateSuccess: "success",
				StateFailure: "failed", StateError: "failed", StateCanceled: "canceled"},
			created: `{"id":93,"sha":"x","ref":"main","status":"success","name":"c","target_url":null,"description":null,"created_at":"2026-12-01T00:00:00.000Z","allow_failure":false}`,
		},
		{
			name:    "gitea",
			apiPath: "/api/v1",
			newc: func(u, tok string) (statusClient, error) {
				return NewGiteaStatus(u+"/api/v1/", tok, nil)
			},
			path: func(repo, sha string) string { return "/api/v1/repos/" + repo + "/statuses/" + sha },
			auth: func(r *http.Request) string {
				return strings.TrimPrefix(r.Header.Get("Authorization"), "token ")
			},
			decode: func(t *testing.T, b []byte) (string, string, string, string) {
				var v struct {
					State, Context, Description string
					TargetURL                   string `json:"target_url"`
				}
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatalf("body %s: %v", b, err)
				}
				return v.State, v.Context, v.Description, v.TargetURL
			},
			errBody: func(msg string) string {
				return `{"message":"` + msg + `","url":"https://git.example.com/api/swagger"}`
			},
			states: map[State]string{StatePending: "pending", StateRunning: "pending", StateSuccess: "success",
				StateFailure: "failure", StateError: "error", StateCanceled: "error"},
			created: `{"id":1,"status":"success","target_url":"","description":"","url":"","context":"c","created_at":"2026-12-01T00:00:00Z"}`,
		},
	}
}

// fakeForge answers with the next scripted reply and records requests.
type fakeForge struct {
	mu      sync.Mutex
	replies []func(w http.ResponseWriter)
	reqs    []recorded
}

type recorded struct {
	method, path, rawPath, token string
	body                         []byte
}

func (f *fakeForge) handler(fc forgeCase) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.EscapedPath(), fc.auth(r), body})
		var reply func(http.ResponseWriter)
		if len(f.replies) > 0 {
			reply, f.replies = f.replies[0], f.replies[1:]
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if reply == nil {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, fc.created)
			return
		}
		reply(w)
	})
}

func TestStatusClients(t *testing.T) {
	const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	for _, fc := range forgeCases() {
		t.Run(fc.name, func(t *testing.T) {
			t.Run("states", func(t *testing.T) {
				f := &fakeForge{}
				srv := httptest.NewServer(f.handler(fc))
				defer srv.Close()
				c, err := fc.newc(srv.URL, testToken)
				if err != nil {
					t.Fatal(err)
				}
				for st, want := range fc.states {
					long := strings.Repeat("é", 200)
					err := c.SetStatus(t.Context(), Status{Repo: "acme/site", SHA: sha, State: st,
						Context: "semaphored/web/deploy", Description: long, TargetURL: "https://ci.example/tasks/7?sig=x"})
					if err != nil {
						t.Fatalf("%s: %v", st, err)
					}
					r := f.reqs[len(f.reqs)-1]
					if r.method != http.MethodPost {
						t.Errorf("method %s, want POST", r.method)
					}
					if r.path != fc.path("acme/site", sha) {
						t.Errorf("path %s, want %s", r.path, fc.path("acme/site", sha))
					}
					if fc.rawPath != nil && r.rawPath != fc.rawPath("acme/site", sha) {
						t.Errorf("raw path %s, want %s", r.rawPath, fc.rawPath("acme/site", sha))
					}
					if r.token != testToken {
						t.Errorf("token %q, want the configured one", r.token)
					}
					gs, gc, gd, gu := fc.decode(t, r.body)
					if gs != want || gc != "semaphored/web/deploy" || gu != "https://ci.example/tasks/7?sig=x" {
						t.Errorf("%s: got state %q context %q url %q, want %q", st, gs, gc, gu, want)
					}
					if n := len([]rune(gd)); n != MaxDescription {
						t.Errorf("description has %d characters, want %d", n, MaxDescription)
					}
				}
			})
			cases := []struct {
				name      string
				reply     func(w http.ResponseWriter)
				retry     bool
				after     time.Duration // exact, or minimum when fuzzy
				fuzzy     bool
				code      int
				wantInErr string
			}{
				{
					name: "4xx carries the forge's message",
					reply: func(w http.ResponseWriter) {
						code := http.StatusUnprocessableEntity
						if fc.name != "github" {
							code = http.StatusNotFound
						}
						w.WriteHeader(code)
						io.WriteString(w, fc.errBody("No commit found for SHA: "+sha))
					},
					code:      map[bool]int{true: 422, false: 404}[fc.name == "github"],
					wantInErr: "No commit found for SHA",
				},
				{
					name:  "401 is final",
					reply: func(w http.ResponseWriter) { w.WriteHeader(401); io.WriteString(w, fc.errBody("Bad credentials")) },
					code:  401, wantInErr: "Bad credentials",
				},
				{
					name:  "5xx is retryable",
					reply: func(w http.ResponseWriter) { w.WriteHeader(502); io.WriteString(w, "<html>bad gateway</html>") },
					retry: true, code: 502,
				},
				{
					name: "429 with Retry-After",
					reply: func(w http.ResponseWriter) {
						w.Header().Set("Retry-After", "30")
						w.WriteHeader(429)
						io.WriteString(w, fc.errBody("Too Many Requests"))
					},
					retry: true, after: 30 * time.Second, code: 429,
				},
				{
					name: "rate limit spent, reset given",
					reply: func(w http.ResponseWriter) {
						reset := time.Now().Add(10 * time.Minute).Unix()
						w.Header().Set("X-RateLimit-Limit", "5000")
						w.Header().Set("X-RateLimit-Remaining", "0")
						w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
						w.Header().Set("X-RateLimit-Resource", "core")
						w.WriteHeader(403)
						io.WriteString(w, `{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}`)
					},
					retry: true, after: 9 * time.Minute, fuzzy: true, code: 403, wantInErr: "rate limit",
				},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f := &fakeForge{replies: []func(http.ResponseWriter){tc.reply}}
					srv := httptest.NewServer(f.handler(fc))
					defer srv.Close()
					c, err := fc.newc(srv.URL, testToken)
					if err != nil {
						t.Fatal(err)
					}
					err = c.SetStatus(t.Context(), Status{Repo: "acme/site", SHA: sha, State: StateSuccess, Context: "semaphored/web/deploy"})
					if err == nil {
						t.Fatal("no error")
					}
					retry, after := Classify(err)
					if retry != tc.retry {
						t.Errorf("retryable %v, want %v (%v)", retry, tc.retry, err)
					}
					if tc.fuzzy && (after < tc.after || after > tc.after+2*time.Minute) {
						t.Errorf("retry after %s, want about %s", after, tc.after)
					}
					if !tc.fuzzy && after != tc.after {
						t.Errorf("retry after %s, want %s", after, tc.after)
					}
					var se *StatusError
					if se, _ = err.(*StatusError); se == nil || se.Code != tc.code || se.Forge != fc.name {
						t.Errorf("got %#v, want a *StatusError with code %d", err, tc.code)
					}
					if !strings.Contains(err.Error(), tc.wantInErr) {
						t.Errorf("error %q does not contain %q", err, tc.wantInErr)
					}
					if strings.Contains(err.Error(), testToken) {
						t.Errorf("error %q contains the token", err)
					}
				})
			}
			t.Run("connection refused is retryable", func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				ln.Close()
				c, err := fc.newc("http://"+addr, testToken)
				if err != nil {
					t.Fatal(err)
				}
				err = c.SetStatus(t.Context(), Status{Repo: "acme/site", SHA: sha, State: StatePending, Context: "x"})
				if retry, _ := Classify(err); !retry {
					t.Errorf("got %v, want a retryable error", err)
				}
				if err != nil && strings.Contains(err.Error(), testToken) {
					t.Errorf("error %q contains the token", err)
				}
			})
			t.Run("timeout is retryable", func(t *testing.T) {
				block := make(chan struct{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
				defer srv.Close()
				defer close(block)
				c, err := fc.newc(srv.URL, testToken)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				defer cancel()
				err = c.SetStatus(ctx, Status{Repo: "acme/site", SHA: sha, State: StatePending, Context: "x"})
				if retry, _ := Classify(err); !retry {
					t.Errorf("got %v, want a retryable error", err)
				}
			})
			t.Run("bad input is final", func(t *testing.T) {
				c, err := fc.newc("http://127.0.0.1:1", testToken)
				if err != nil {
					t.Fatal(err)
				}
				err = c.SetStatus(t.Context(), Status{Repo: "noslash", SHA: sha, State: StatePending})
				if retry, _ := Classify(err); err == nil || retry {
					t.Errorf("got %v, want a final error", err)
				}
			})
		})
	}
}

// TestGitLabSameStateTwice: GitLab answers 400 "Cannot transition status"
// when a commit already has the posted state; that is success.
func TestGitLabSameStateTwice(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, `{"message":"Cannot transition status via :enqueue from :pending (Reasons(s): Status cannot transition via \"enqueue\")"}`)
	}))
	defer srv.Close()
	c, err := NewGitLabStatus(srv.URL+"/api/v4", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(t.Context(), Status{Repo: "g/p", SHA: "abc", State: StatePending, Context: "x"}); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	if got := retryAfter(h, now); got != 90*time.Second {
		t.Errorf("got %s, want 1m30s", got)
	}
	h = http.Header{}
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))
	if got := retryAfter(h, now); got != time.Hour {
		t.Errorf("GitLab reset: got %s, want 1h", got)
	}
}
