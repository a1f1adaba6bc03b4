package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// ansiRE matches ANSI escape sequences (colours, cursor moves).
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]`)

// StripANSI removes ANSI escape sequences from s.
func StripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiRE.ReplaceAllString(s, "")
}

var (
	// recapHostRE is one host line of ansible's PLAY RECAP.
	recapHostRE = regexp.MustCompile(`^\S.*?\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)
	// planRE is terraform/tofu's plan summary.
	planRE = regexp.MustCompile(`Plan: (\d+) to add, (\d+) to change, (\d+) to destroy`)
	// applyRE is terraform/tofu's apply summary.
	applyRE = regexp.MustCompile(`Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed`)
	// noChangesRE is the plan of nothing to do.
	noChangesRE = regexp.MustCompile(`^No changes\. `)
)

// Summarize reads what a run did from the last lines of its log: ansible's
// PLAY RECAP ("ansible: 12 ok, 2 changed, 0 failed, 0 unreachable on 5
// hosts"), or terraform/tofu's apply or plan summary ("plan: 3 to add, 1 to
// change, 0 to destroy"). Empty when neither is there. The last recap or
// summary wins (a log may hold several plays).
func Summarize(lines []string) string {
	var (
		ok, changed, unreach, failed, hosts int
		inRecap, haveRecap                  bool
		tf                                  string
	)
	for _, raw := range lines {
		l := strings.TrimRight(StripANSI(raw), "\r")
		switch {
		case strings.HasPrefix(l, "PLAY RECAP"):
			inRecap, haveRecap = true, true
			ok, changed, unreach, failed, hosts = 0, 0, 0, 0, 0
			continue
		case inRecap:
			if m := recapHostRE.FindStringSubmatch(l); m != nil {
				ok += atoi(m[1])
				changed += atoi(m[2])
				unreach += atoi(m[3])
				failed += atoi(m[4])
				hosts++
				continue
			}
			if strings.TrimSpace(l) == "" && hosts == 0 {
				continue
			}
			inRecap = false
		}
		if m := applyRE.FindStringSubmatch(l); m != nil {
			tf = fmt.Sprintf("apply: %s added, %s changed, %s destroyed", m[1], m[2], m[3])
		} else if m := planRE.FindStringSubmatch(l); m != nil {
			tf = fmt.Sprintf("plan: %s to add, %s to change, %s to destroy", m[1], m[2], m[3])
		} else if noChangesRE.MatchString(l) {
			tf = "plan: no changes"
		}
	}
	if haveRecap && hosts > 0 {
		h := "hosts"
		if hosts == 1 {
			h = "host"
		}
		return fmt.Sprintf("ansible: %d ok, %d changed, %d failed, %d unreachable on %d %s", ok, changed, failed, unreach, hosts, h)
	}
	return tf
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Describe is the description of a terminal task's commit status, at most
// 140 characters: the reason when it did not run to its end (stopped,
// interrupted, error), then the run's summary from its log tail, else the
// exit code, then the duration.
func Describe(t state.Task, tail []string) string {
	var parts []string
	switch t.Status {
	case state.StatusStopped, state.StatusInterrupted, state.StatusError:
		reason := t.Message
		if reason == "" {
			reason = string(t.Status)
		}
		parts = append(parts, reason)
	}
	if s := Summarize(tail); s != "" {
		parts = append(parts, s)
	} else if t.Status != state.StatusInterrupted && t.ExitCode >= 0 && !t.Started.IsZero() {
		parts = append(parts, "exit code "+strconv.Itoa(t.ExitCode))
	}
	if d := duration(t); d > 0 {
		parts = append(parts, "in "+formatDuration(d))
	}
	if len(parts) == 0 {
		parts = append(parts, string(t.Status))
	}
	return truncate(strings.Join(parts, "; "), 140)
}

func duration(t state.Task) time.Duration {
	if t.Started.IsZero() || t.Ended.IsZero() {
		return 0
	}
	return t.Ended.Sub(t.Started)
}

// formatDuration prints d rounded for people: 850ms, 12s, 3m4s, 1h2m.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
