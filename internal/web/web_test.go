package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/state"
)

func TestAccess(t *testing.T) {
	r := newRig(t)
	t1 := r.task(t, state.StatusSuccess, "hello")
	t2 := r.task(t, state.StatusFailure, "other")
	good := r.link(t1.ID)
	u, _ := url.Parse(good)
	q := u.Query()
	tampered := r.srv.URL + fmt.Sprintf("/tasks/%d?exp=%s&sig=%s", t1.ID, q.Get("exp"), strings.ToUpper(q.Get("sig")))
	expiredSigner, _ := link.New([]byte("0123456789abcdef0123456789abcdef"), func() time.Time { return time.Now().Add(-100 * 24 * time.Hour) })
	expired := expiredSigner.URL(r.srv.URL, t1.ID, time.Hour)
	otherTask := r.srv.URL + fmt.Sprintf("/tasks/%d?%s", t2.ID, u.RawQuery)
	base := fmt.Sprintf("%s/tasks/%d", r.srv.URL, t1.ID)
	cases := []struct {
		name, url, auth string
		want            int
	}{
		{"signed link", good, "", 200},
		{"no credential", base, "", 401},
		{"tampered signature", tampered, "", 403},
		{"expired link", expired, "", 403},
		{"link of another task", otherTask, "", 403},
		{"signature without expiry", base + "?sig=" + q.Get("sig"), "", 403},
		{"token", base, "Bearer good", 200},
		{"unknown token", base, "Bearer nope", 401},
		{"token of another project", base, "Bearer other", 403},
		{"token, no such task", r.srv.URL + "/tasks/999", "Bearer good", 404},
		{"unknown token, no such task", r.srv.URL + "/tasks/999", "Bearer nope", 401},
		{"earlier lines with the link", base + "/log?before=2&" + u.RawQuery, "", 200},
		{"earlier lines of another task with the link", fmt.Sprintf("%s/tasks/%d/log?before=2&%s", r.srv.URL, t2.ID, u.RawQuery), "", 403},
		{"events with the link", base + "/events?" + u.RawQuery, "", 200},
		{"events without", base + "/events", "", 401},
		{"not a task id", r.srv.URL + "/tasks/abc?" + u.RawQuery, "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.url, tc.auth)
			if code != tc.want {
				t.Errorf("got %d, want %d: %s", code, tc.want, body)
			}
			if code != 200 && strings.Contains(body, "hello") {
				t.Errorf("a refused request shows the log")
			}
		})
	}
	if v := r.h.m.requests.WithLabelValues("page", "link", "403").Value(); v != 4 {
		t.Errorf("page link 403 count %v, want 4", v)
	}
}

func TestPage(t *testing.T) {
	r := newRig(t)
	var lines []string
	for i := 1; i <= 3000; i++ {
		lines = append(lines, fmt.Sprintf("line %d \x1b[0;32mok: [web%d]\x1b[0m <tag>", i, i))
	}
	tk := r.task(t, state.StatusFailure, lines...)
	code, body := get(t, r.link(tk.ID), "")
	if code != 200 {
		t.Fatalf("got %d", code)
	}
	for _, want := range []string{
		"<title>web/deploy #1 failure</title>", `class="s failure"`, "push by alice",
		`<a href="https://github.com/acme/site/commit/6dcb09b5b57875f334f61aebed695e2e4193db5e" rel="noreferrer">6dcb09b5b578</a> on main`,
		"lines 2001–<span id=\"last\">3000</span> of <span id=\"total\">3000</span>", `<button id="more"`,
		`<div>line 3000 <span class="f32">ok: [web3000]</span> &lt;tag&gt;</div>`, "exit code 2", "1m30s",
	} {
		if !strings.Contains(body, want) {
			i := strings.Index(body, `id="range"`)
			t.Errorf("page lacks %q; bar: %.200s", want, body[i:])
		}
	}
	if strings.Contains(body, "<div>line 2000 ") {
		t.Errorf("page shows more than the tail")
	}
	// Self-contained: nothing is loaded from elsewhere.
	for _, bad := range []string{"<link", "src=", "@import", "url(", "@font-face"} {
		if strings.Contains(body, bad) {
			t.Errorf("page has %q: it must load nothing", bad)
		}
	}
	// Earlier lines on demand, with the same link.
	u, _ := url.Parse(r.link(tk.ID))
	code, frag := get(t, fmt.Sprintf("%s/tasks/%d/log?before=2001&limit=2000&%s", r.srv.URL, tk.ID, u.RawQuery), "")
	if code != 200 || !strings.HasPrefix(frag, "<div>line 1 ") || !strings.Contains(frag, "<div>line 2000 ") || strings.Contains(frag, "line 2001 ") {
		t.Errorf("earlier lines: %d %.100s ... %s", code, frag, frag[max(0, len(frag)-100):])
	}
}

func TestEvents(t *testing.T) {
	r := newRig(t)
	tk := r.task(t, state.StatusRunning, "first")
	u, _ := url.Parse(r.link(tk.ID))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/tasks/%d/events?from=2&%s", r.srv.URL, tk.ID, u.RawQuery), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	<-r.follow.calls
	r.appendLines(t, tk.ID, "\x1b[31msecond\x1b[0m", "third")
	r.setStatus(t, tk.ID, state.StatusSuccess)
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "event: ") || strings.HasPrefix(l, "data: ") || strings.HasPrefix(l, "id: ") {
			events = append(events, l)
		}
	}
	got := strings.Join(events, "\n")
	want := "id: 3\nevent: lines\n" + `data: [{"n":2,"h":"\u003cspan class=\"f31\"\u003esecond\u003c/span\u003e"},{"n":3,"h":"third"}]` + "\nevent: status\n"
	if !strings.HasPrefix(got, want) || !strings.Contains(got, `"status":"success"`) {
		t.Errorf("events:\n%s\nwant prefix:\n%s", got, want)
	}
}

// TestEventsResume: a reconnecting EventSource (Last-Event-ID) gets the
// lines after the last one it saw, then the end.
func TestEventsResume(t *testing.T) {
	r := newRig(t)
	tk := r.task(t, state.StatusSuccess, "one", "two", "three", "four")
	u, _ := url.Parse(r.link(tk.ID))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("%s/tasks/%d/events?from=1&%s", r.srv.URL, tk.ID, u.RawQuery), nil)
	req.Header.Set("Last-Event-ID", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	got := string(b)
	if !strings.Contains(got, `id: 4`+"\n"+`event: lines`+"\n"+`data: [{"n":3,"h":"three"},{"n":4,"h":"four"}]`) || !strings.Contains(got, "event: status") {
		t.Errorf("resumed stream:\n%s", got)
	}
}
