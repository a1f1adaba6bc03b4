package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var msg = Message{
	Event: "failure", Project: "web", Template: "deploy", TaskID: 42, Status: "failure",
	Summary: "ansible: 12 ok, 2 changed, 1 failed, 0 unreachable on 5 hosts",
	URL:     "https://ci.example.com/tasks/42?exp=1&sig=abc", Commit: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
	Branch: "main", Trigger: "push", Duration: 63 * time.Second,
}

// recorder is a fake service: it records requests and answers with the
// next scripted reply (status, headers, body), or ok.
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	replies []reply
	ok      reply
}

type reply struct {
	code   int
	header map[string]string
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, b)
	rep := r.ok
	if len(r.replies) > 0 {
		rep, r.replies = r.replies[0], r.replies[1:]
	}
	r.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.code)
	io.WriteString(w, rep.body)
}

const secretURLPart = "T000/B000/XXXXSECRETXXXX"

// channel is one sender under the shared checks.
type channel struct {
	name string
	ok   reply
	send func(ctx context.Context, hc *http.Client, base string) error
	// check inspects the accepted request.
	check func(t *testing.T, r *http.Request, body []byte)
	// bad is the service's own 4xx, with the message it must surface.
	bad     reply
	badMsg  string
	limited reply // a 429
	after   time.Duration
}

func channels() []channel {
	return []channel{
		{
			name: "slack",
			ok:   reply{200, map[string]string{"Content-Type": "text/html"}, "ok"},
			send: func(ctx context.Context, hc *http.Client, base string) error {
				return Slack(ctx, hc, base+"/services/"+secretURLPart, msg)
			},
			check: func(t *testing.T, r *http.Request, b []byte) {
				var v struct {
					Text   string
					Blocks []struct {
						Type string
						Text struct{ Type, Text string }
					}
				}
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatal(err)
				}
				if v.Text != "❌ web/deploy #42 failed" || len(v.Blocks) != 1 || v.Blocks[0].Text.Type != "mrkdwn" ||
					!strings.Contains(v.Blocks[0].Text.Text, "<"+msg.URL+"|Open the task>") {
					t.Errorf("body %s", b)
				}
			},
			bad:     reply{404, nil, "no_service"},
			badMsg:  "no_service",
			limited: reply{429, map[string]string{"Retry-After": "30"}, "rate_limited"},
			after:   30 * time.Second,
		},
		{
			name: "teams",
			ok:   reply{202, nil, ""},
			send: func(ctx context.Context, hc *http.Client, base string) error {
				return Teams(ctx, hc, base+"/workflows/"+secretURLPart+"/triggers/manual/paths/invoke?sig="+secretURLPart, msg)
			},
			check: func(t *testing.T, r *http.Request, b []byte) {
				var v struct {
					Type        string
					Attachments []struct {
						ContentType string
						Content     struct {
							Type    string
							Body    []struct{ Text string }
							Actions []struct{ Type, URL string }
						}
					}
				}
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatal(err)
				}
				if v.Type != "message" || len(v.Attachments) != 1 || v.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
					v.Attachments[0].Content.Type != "AdaptiveCard" || v.Attachments[0].Content.Body[0].Text != "❌ web/deploy #42 failed" ||
					v.Attachments[0].Content.Actions[0].URL != msg.URL {
					t.Errorf("body %s", b)
				}
			},
			bad:     reply{400, map[string]string{"Content-Type": "application/json"}, `{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`},
			badMsg:  "InvalidRequestContent",
			limited: reply{429, map[string]string{"Retry-After": "7"}, `{"error":{"code":"WorkflowTriggeredTooFrequently","message":"slow down"}}`},
			after:   7 * time.Second,
		},
		{
			name: "telegram",
			ok:   reply{200, map[string]string{"Content-Type": "application/json"}, `{"ok":true,"result":{"message_id":5,"chat":{"id":-100123,"type":"supergroup"},"date":1764565200,"text":"x"}}`},
			send: func(ctx context.Context, hc *http.Client, base string) error {
				return Telegram(ctx, hc, base, "123456:"+secretURLPart, "-100123", msg)
			},
			check: func(t *testing.T, r *http.Request, b []byte) {
				if r.URL.Path != "/bot123456:"+secretURLPart+"/sendMessage" {
					t.Errorf("path %s", r.URL.Path)
				}
				var v struct {
					ChatID    string `json:"chat_id"`
					Text      string
					ParseMode string `json:"parse_mode"`
				}
				json.Unmarshal(b, &v)
				if v.ChatID != "-100123" || v.ParseMode != "HTML" || !strings.HasPrefix(v.Text, "<b>❌ web/deploy #42 failed</b>") ||
					!strings.Contains(v.Text, `<a href="https://ci.example.com/tasks/42?exp=1&amp;sig=abc">`) {
					t.Errorf("body %s", b)
				}
			},
			bad:     reply{400, map[string]string{"Content-Type": "application/json"}, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`},
			badMsg:  "Bad Request: chat not found",
			limited: reply{429, map[string]string{"Content-Type": "application/json"}, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 11","parameters":{"retry_after":11}}`},
			after:   11 * time.Second,
		},
		{
			name: "webhook",
			ok:   reply{204, nil, ""},
			send: func(ctx context.Context, hc *http.Client, base string) error {
				return Webhook(ctx, hc, base+"/hook?token="+secretURLPart, []byte("hook-key"), "notification:web/audit#42", msg)
			},
			check: func(t *testing.T, r *http.Request, b []byte) {
				mac := hmac.New(sha256.New, []byte("hook-key"))
				mac.Write(b)
				if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get(SignatureHeader) != want {
					t.Errorf("signature %q, want %q", r.Header.Get(SignatureHeader), want)
				}
				if r.Header.Get("X-Semaphored-Event") != "task.failure" || r.Header.Get("X-Semaphored-Delivery") != "notification:web/audit#42" {
					t.Errorf("headers %v", r.Header)
				}
				var v map[string]any
				json.Unmarshal(b, &v)
				if v["project"] != "web" || v["task_id"] != float64(42) || v["status"] != "failure" || v["title"] != "❌ web/deploy #42 failed" || v["duration_seconds"] != float64(63) {
					t.Errorf("body %s", b)
				}
			},
			bad:     reply{403, map[string]string{"Content-Type": "application/json"}, `{"message":"signature mismatch"}`},
			badMsg:  "signature mismatch",
			limited: reply{503, map[string]string{"Retry-After": "60"}, ""},
			after:   60 * time.Second,
		},
	}
}

func TestChannels(t *testing.T) {
	for _, ch := range channels() {
		t.Run(ch.name, func(t *testing.T) {
			rec := &recorder{ok: ch.ok}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			if err := ch.send(t.Context(), nil, srv.URL); err != nil {
				t.Fatalf("send: %v", err)
			}
			ch.check(t, rec.reqs[0], rec.bodies[0])

			cases := []struct {
				name  string
				r     reply
				retry bool
				after time.Duration
				msg   string
			}{
				{"4xx is final with the service's message", ch.bad, false, 0, ch.badMsg},
				{"rate limited", ch.limited, true, ch.after, ""},
				{"5xx", reply{502, nil, "<html>Bad Gateway</html>"}, true, 0, "Bad Gateway"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rec.replies = []reply{tc.r}
					err := ch.send(t.Context(), nil, srv.URL)
					e, ok := err.(*Error)
					if !ok {
						t.Fatalf("got %v, want an *Error", err)
					}
					if r, a := e.Retry(); r != tc.retry || a != tc.after {
						t.Errorf("retry %v after %s, want %v after %s (%v)", r, a, tc.retry, tc.after, err)
					}
					if !strings.Contains(err.Error(), tc.msg) {
						t.Errorf("error %q does not contain %q", err, tc.msg)
					}
					if strings.Contains(err.Error(), secretURLPart) {
						t.Errorf("error %q contains the secret URL or token", err)
					}
				})
			}
			t.Run("connection refused", func(t *testing.T) {
				ln, _ := net.Listen("tcp", "127.0.0.1:0")
				addr := ln.Addr().String()
				ln.Close()
				err := ch.send(t.Context(), nil, "http://"+addr)
				if r, _ := err.(*Error).Retry(); !r {
					t.Errorf("got %v, want retryable", err)
				}
				if strings.Contains(err.Error(), secretURLPart) {
					t.Errorf("error %q contains the secret URL or token", err)
				}
			})
		})
	}
}

func TestTitle(t *testing.T) {
	cases := []struct {
		m    Message
		want string
	}{
		{Message{Event: "end", Project: "p", Template: "t", TaskID: 1, Status: "success"}, "✅ p/t #1 succeeded"},
		{Message{Event: "recovery", Project: "p", Template: "t", TaskID: 2, Status: "success"}, "✅ p/t #2 recovered"},
		{Message{Event: "failure", Project: "p", Template: "t", TaskID: 3, Status: "stopped"}, "⏹ p/t #3 stopped"},
		{Message{Event: "failure", Project: "p", Template: "t", TaskID: 4, Status: "interrupted"}, "⚠️ p/t #4 interrupted"},
	}
	for _, tc := range cases {
		if got := tc.m.Title(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
