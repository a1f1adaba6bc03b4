package web

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

var shots = flag.String("screenshots", "", "keep the Chromium screenshots in this directory")

// chromium runs headless Chromium on url with extra flags and returns its
// standard output. Skips when Chromium is not installed.
func chromium(t *testing.T, ctx context.Context, url string, flags ...string) []byte {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium is not installed")
	}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profileDir(t)}, flags...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, bin, args...)
	ownGroup(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.Bytes()
}

func shotPath(t *testing.T, name string) string {
	dir := *shots
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, name)
}

var (
	linesAttr = regexp.MustCompile(`data-lines="(\d+)"`)
	liveAttr  = regexp.MustCompile(`data-live="(\d+)"`)
	statusRE  = regexp.MustCompile(`data-status="([a-z_]+)"`)
)

func attr(t *testing.T, re *regexp.Regexp, dom []byte) int {
	m := re.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no %s in the DOM", re)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestChromiumRunningTask: the page of a running task receives new lines
// live. Two screenshots of the same open page, taken while the task
// writes, show different last lines, and the DOM's line count grows by
// lines that came over Server-Sent Events; when the task ends, the page
// shows its final status without a reload.
func TestChromiumRunningTask(t *testing.T) {
	r := newRig(t)
	var lines []string
	for i := 1; i <= 10; i++ {
		lines = append(lines, fmt.Sprintf("\x1b[0;32mok: [web%d]\x1b[0m task %d", i, i))
	}
	tk := r.task(t, state.StatusRunning, lines...)
	b := openBrowser(t, r.link(tk.ID))
	b.waitFor("the page", `document.readyState==="complete"&&document.body.dataset.lines==="10"`)
	<-r.follow.calls // the page's EventSource is connected

	next := 11
	write := func(n int) {
		for range n {
			r.appendLines(t, tk.ID, fmt.Sprintf("\x1b[0;33mchanged: [web%d]\x1b[0m live line %d", next, next))
			next++
			time.Sleep(5 * time.Millisecond)
		}
	}
	write(15)
	b.waitFor("live lines", `document.body.dataset.lines==="25"`)
	n1, live1 := b.eval("document.body.dataset.lines"), b.eval("document.body.dataset.live")
	last1 := b.eval(`document.getElementById("log").lastElementChild.textContent`)
	b.screenshot(shotPath(t, "running-1.png"))
	write(20)
	b.waitFor("more live lines", `document.body.dataset.lines==="45"`)
	n2, live2 := b.eval("document.body.dataset.lines"), b.eval("document.body.dataset.live")
	last2 := b.eval(`document.getElementById("log").lastElementChild.textContent`)
	b.screenshot(shotPath(t, "running-2.png"))
	t.Logf("first look: %s lines (%s live), last %q; second: %s lines (%s live), last %q", n1, live1, last1, n2, live2, last2)
	if live1 != "15" || live2 != "35" {
		t.Errorf("live lines %s then %s, want 15 then 35", live1, live2)
	}
	if last1 != "changed: [web25] live line 25" || last2 != "changed: [web45] live line 45" {
		t.Errorf("last lines %q, %q", last1, last2)
	}
	if got := b.eval(`document.getElementById("log").lastElementChild.innerHTML`); got != `<span class="f33">changed: [web45]</span> live line 45` {
		t.Errorf("live line HTML %q: want the ANSI colour rendered", got)
	}
	if got := b.eval("document.body.dataset.status"); got != "running" {
		t.Errorf("status %s, want running", got)
	}
	r.setStatus(t, tk.ID, state.StatusSuccess)
	b.waitFor("the final status", `document.body.dataset.status==="success"`)
	b.screenshot(shotPath(t, "running-3-ended.png"))
	if got := b.eval(`document.getElementById("status").className`); got != "s success" {
		t.Errorf("badge class %q", got)
	}
}

// TestChromiumFinishedTask: a finished task's page shows its final status.
func TestChromiumFinishedTask(t *testing.T) {
	r := newRig(t)
	tk := r.task(t, state.StatusFailure, "PLAY RECAP ****", "\x1b[0;31mweb1\x1b[0m : ok=3 changed=1 unreachable=0 \x1b[0;31mfailed=1\x1b[0m")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dom := chromium(t, ctx, r.link(tk.ID), "--dump-dom", "--virtual-time-budget=2000")
	chromium(t, ctx, r.link(tk.ID), "--screenshot="+shotPath(t, "finished.png"), "--window-size=412,915")
	if got := statusRE.FindSubmatch(dom); got == nil || string(got[1]) != "failure" {
		t.Errorf("status %s, want failure", got)
	}
	if !bytes.Contains(dom, []byte(`<span id="status" class="s failure">failure</span>`)) {
		t.Errorf("the status badge does not say failure")
	}
	if !bytes.Contains(dom, []byte(`<span class="f31">failed=1</span>`)) {
		t.Errorf("ANSI colours not rendered")
	}
}

// bigLog is the 200,000-line log of the first-paint figure.
func bigLog(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("\x1b[0;32mok: [host%03d]\x1b[0m => (item=%d) {\"changed\": false, \"msg\": \"line %d of the big log\"}", i%500, i, i+1)
	}
	return lines
}

// TestChromiumBigLog: the page of a 200,000-line log paints its first
// content in under a second (the browser's own first-contentful-paint
// time), shows the tail, and loads earlier lines when asked.
func TestChromiumBigLog(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200,000-line log")
	}
	r := newRig(t)
	tk := r.task(t, state.StatusSuccess, bigLog(200_000)...)
	start := time.Now()
	b := openBrowser(t, r.link(tk.ID))
	b.waitFor("first paint", `document.body.dataset.fcp!==undefined`)
	cold := b.eval("document.body.dataset.fcp")
	// The first navigation of a fresh browser process pays for its own
	// start-up; a person clicking a link has a running browser. Reload
	// and measure again.
	b.eval("location.reload()")
	time.Sleep(100 * time.Millisecond)
	b.waitFor("first paint after a reload", `document.readyState==="complete"&&document.body.dataset.fcp!==undefined`)
	fcp := b.eval("document.body.dataset.fcp")
	t.Logf("200,000-line log: first contentful paint %s ms after navigation start (%s ms in a fresh browser; browser start to first paint %s)", fcp, cold, time.Since(start).Round(time.Millisecond))
	if ms, err := strconv.Atoi(fcp); err != nil || ms >= 1000 {
		t.Errorf("first paint %s ms, want under 1000", fcp)
	}
	if got := b.eval("document.body.dataset.lines"); got != "1000" {
		t.Errorf("%s lines shown, want the 1000-line tail", got)
	}
	if got := b.eval(`document.getElementById("log").lastElementChild.textContent`); !strings.Contains(got, "line 200000 of the big log") {
		t.Errorf("last line %q", got)
	}
	b.screenshot(shotPath(t, "big-log.png"))
	b.eval(`document.getElementById("more").click()`)
	b.waitFor("earlier lines", `document.body.dataset.lines==="3000"`)
	if got := b.eval(`document.getElementById("log").firstElementChild.textContent`); !strings.Contains(got, "line 197001 of the big log") {
		t.Errorf("first line after loading earlier ones: %q", got)
	}
}
