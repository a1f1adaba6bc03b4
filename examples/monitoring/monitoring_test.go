// Package monitoring holds the Grafana dashboard and Prometheus alert
// rules of semaphored; its test checks them against the metrics the
// daemon's Go sources define.
package monitoring

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// metricDef finds metric definitions in Go sources: Name: "semaphored_x"
// (prom's *Opts and Family) and a constant fooName = "semaphored_x" (the
// families a collector writes itself).
var metricDef = regexp.MustCompile(`(?:Name:\s*|Name\s*=\s*)"(semaphored_[a-z0-9_]+)"`)

// exported lists the metric names the daemon's non-test Go sources define,
// plus what Prometheus itself gives every scrape (up).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	root := filepath.Join("..", "..")
	names := map[string]bool{"up": true}
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range metricDef.FindAllSubmatch(b, -1) {
				names[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !names["semaphored_tasks_total"] || !names["semaphored_outbox_pending"] {
		t.Fatalf("found %d metric definitions; the source scan is broken", len(names))
	}
	return names
}

// used lists the metric names an expression refers to (histogram series
// suffixes removed when the base is a known histogram).
var metricRef = regexp.MustCompile(`\b(semaphored_[a-z0-9_]+|up)\b`)

func refs(expr string, known map[string]bool) []string {
	var out []string
	for _, m := range metricRef.FindAllString(expr, -1) {
		name := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(m, suf); ok && known[base] {
				name = base
			}
		}
		out = append(out, name)
	}
	return out
}

// exprs walks the dashboard JSON for every "expr" and templating "query".
func exprs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && (k == "expr" || k == "definition") {
				*out = append(*out, s)
				continue
			}
			exprs(val, out)
		}
	case []any:
		for _, val := range x {
			exprs(val, out)
		}
	}
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	known := exported(t)
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var all []string
	exprs(dash, &all)
	if len(all) < 20 {
		t.Fatalf("found %d expressions in the dashboard, want its panels' queries", len(all))
	}
	used := map[string]bool{}
	for _, e := range all {
		for _, n := range refs(e, known) {
			used[n] = true
			if !known[n] {
				t.Errorf("dashboard uses %s, which the daemon does not export (in %q)", n, e)
			}
		}
	}
	// What the issue asks the board to show.
	for _, n := range []string{"semaphored_tasks_total", "semaphored_task_duration_seconds", "semaphored_task_queue_seconds",
		"semaphored_config_syncs_total", "semaphored_config_last_revision_valid", "semaphored_outbox_pending",
		"semaphored_outbox_failed_total", "semaphored_webhook_requests_total", "semaphored_schedule_fires_total"} {
		if !used[n] {
			t.Errorf("dashboard does not show %s", n)
		}
	}
	// Every panel has a unique id and a datasource variable, no fixed uid.
	ids := map[float64]bool{}
	for _, p := range dash["panels"].([]any) {
		pm := p.(map[string]any)
		id := pm["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v used twice", id)
		}
		ids[id] = true
	}
	if strings.Contains(string(b), `"uid": "prometheus"`) {
		t.Errorf("a panel names a fixed datasource uid; use ${datasource}")
	}
}

func TestAlertRules(t *testing.T) {
	known := exported(t)
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, n := range refs(line, known) {
			if !known[n] {
				t.Errorf("alerts.yml uses %s, which the daemon does not export", n)
			}
		}
	}
	for _, want := range []string{"SemaphoredDown", "SemaphoredConfigSyncFailing", "SemaphoredConfigInvalid", "SemaphoredOutboxStuck",
		"SemaphoredOutboxFailing", "SemaphoredTaskFailingRepeatedly", "SemaphoredQueueWaitHigh"} {
		if !strings.Contains(string(b), "alert: "+want+"\n") {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has a unit test.
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`alert: (\w+)`).FindAllStringSubmatch(string(b), -1) {
		if !strings.Contains(string(tests), "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no test in alerts_test.yml", m[1])
		}
	}
}
