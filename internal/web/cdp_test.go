package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/semaphored/semaphored/internal/testenv"
)

// ownGroup runs cmd in its own process group and ends the whole group
// (Chromium's renderer and zygote processes too) when its context ends.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// profileDir is a Chromium profile directory removed at the end of the
// test, after the browser's process group is gone (registered before the
// browser's own cleanup, so it runs after it).
func profileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return dir
}

// browser is a headless Chromium driven over the DevTools protocol, one
// page, for tests that look at a page while it changes.
type browser struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	id   int
	wait map[int]chan json.RawMessage
}

// openBrowser starts Chromium on url with a phone-sized window and
// connects to its page. Skips when Chromium is not installed.
func openBrowser(t *testing.T, url string) *browser {
	t.Helper()
	bin := testenv.LookTool(t, "chromium")
	dir := profileDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+dir, "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=412,915", url)
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	var port string
	deadline := time.Now().Add(30 * time.Second)
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort")); err == nil {
			port, _, _ = strings.Cut(string(b), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not open its DevTools port")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var wsURL string
	for wsURL == "" {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err == nil {
			var targets []struct{ Type, URL, WebSocketDebuggerURL string }
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && strings.HasPrefix(tg.URL, "http") {
					wsURL = tg.WebSocketDebuggerURL
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium has no page")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ws, err := websocket.Dial(wsURL, "", "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ws: ws, wait: map[int]chan json.RawMessage{}}
	go b.read()
	t.Cleanup(func() { ws.Close() })
	return b
}

func (b *browser) read() {
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := websocket.JSON.Receive(b.ws, &msg); err != nil {
			return
		}
		if msg.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.wait[msg.ID]
		delete(b.wait, msg.ID)
		b.mu.Unlock()
		if ch != nil {
			if msg.Error != nil {
				ch <- msg.Error
			} else {
				ch <- msg.Result
			}
		}
	}
}

// call sends one DevTools command and returns its result.
func (b *browser) call(method string, params map[string]any) json.RawMessage {
	b.t.Helper()
	b.mu.Lock()
	b.id++
	id := b.id
	ch := make(chan json.RawMessage, 1)
	b.wait[id] = ch
	b.mu.Unlock()
	if err := websocket.JSON.Send(b.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		b.t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		b.t.Fatalf("%s: no answer", method)
		return nil
	}
}

// eval evaluates a JavaScript expression in the page and returns its
// value as a string ("" when undefined).
func (b *browser) eval(expr string) string {
	b.t.Helper()
	r := b.call("Runtime.evaluate", map[string]any{"expression": "String(" + expr + ")", "returnByValue": true})
	var v struct {
		Result struct{ Value any } `json:"result"`
	}
	json.Unmarshal(r, &v)
	return fmt.Sprint(v.Result.Value)
}

// waitFor evaluates expr until it is "true".
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for b.eval(expr) != "true" {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s)", what, expr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// screenshot writes a PNG of the viewport to path.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	r := b.call("Page.captureScreenshot", map[string]any{"format": "png"})
	var v struct{ Data string }
	if err := json.Unmarshal(r, &v); err != nil || v.Data == "" {
		b.t.Fatalf("screenshot: %s", r)
	}
	png, err := base64.StdEncoding.DecodeString(v.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
