package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

const (
	unitFile = "../../examples/systemd/semaphored.service"
	envFile  = "../../examples/systemd/semaphored.env"
)

// parseUnit reads a systemd unit into section -> key -> values (a key may
// repeat, as Environment= does).
func parseUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// TestSystemdUnit checks the hardening, the stop timeout against the
// daemon's shutdown defaults, the paths against the flags' variables, and
// runs systemd-analyze verify when it is installed.
func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, unitFile)
	svc := u["Service"]
	one := func(k string) string {
		t.Helper()
		if len(svc[k]) != 1 {
			t.Errorf("%s: got %q, want one value", k, svc[k])
			return ""
		}
		return svc[k][0]
	}
	for k, want := range map[string]string{
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"StateDirectory":        "semaphored",
		"CapabilityBoundingSet": "",
		"SystemCallFilter":      "@system-service",
		"KillMode":              "mixed",
		"User":                  "semaphored",
		"UMask":                 "0077",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	fams := strings.Fields(one("RestrictAddressFamilies"))
	slices.Sort(fams)
	if !slices.Equal(fams, []string{"AF_INET", "AF_INET6", "AF_UNIX"}) {
		t.Errorf("RestrictAddressFamilies=%v, want AF_UNIX AF_INET AF_INET6", fams)
	}

	// The state path: StateDirectory, ReadWritePaths, WorkingDirectory and
	// the daemon's --data variable agree.
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	stateDir := "/var/lib/" + one("StateDirectory")
	if env[flagEnv("data")] != stateDir || one("ReadWritePaths") != stateDir || one("WorkingDirectory") != stateDir {
		t.Errorf("state path: %s=%q ReadWritePaths=%q WorkingDirectory=%q, want all %s",
			flagEnv("data"), env[flagEnv("data")], one("ReadWritePaths"), one("WorkingDirectory"), stateDir)
	}
	serveVars := serveEnvVars(t)
	for k := range env {
		if strings.HasPrefix(k, "SEMAPHORED_") && !slices.Contains(serveVars, k) {
			t.Errorf("Environment=%s is not a variable serve reads", k)
		}
	}
	if exe := strings.Fields(one("ExecStart")); len(exe) < 2 || filepath.Base(exe[0]) != "semaphored" || exe[1] != "serve" {
		t.Errorf("ExecStart=%v, want semaphored serve", exe)
	}
	if one("EnvironmentFile") != "/etc/semaphored/semaphored.env" {
		t.Errorf("EnvironmentFile=%q", one("EnvironmentFile"))
	}

	// TimeoutStopSec leaves room for the daemon's own shutdown: the drain
	// of running tasks (settings.drain_timeout, once it exists) and the
	// stop grace period, with their defaults.
	stop, err := time.ParseDuration(one("TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("project: p\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	need := time.Duration(cfg.Settings.StopGracePeriod)
	if f := reflect.ValueOf(cfg.Settings).FieldByName("DrainTimeout"); f.IsValid() && f.CanInt() {
		need += time.Duration(f.Int())
	}
	if need <= 0 {
		t.Fatalf("no default shutdown time found in the config defaults")
	}
	if stop < need+5*time.Second {
		t.Errorf("TimeoutStopSec=%s, want at least %s (drain + grace + 5s)", stop, need+5*time.Second)
	}

	// systemd's own check, with ExecStart pointing at a real binary.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "semaphored.service")
	fixed := strings.ReplaceAll(string(unit), "ExecStart=/usr/local/bin/semaphored", "ExecStart="+semaphoredBinary(t))
	if err := os.WriteFile(tmp, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
	if err != nil || strings.Contains(string(out), filepath.Base(tmp)) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdEnvFile checks that the environment file parses as one and
// documents every variable serve reads, and nothing else of that prefix.
func TestSystemdEnvFile(t *testing.T) {
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	assign := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	mentioned := map[string]bool{}
	mention := regexp.MustCompile(`^#?(SEMAPHORED_[A-Z_]+)=`)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if m := mention.FindStringSubmatch(line); m != nil {
			mentioned[m[1]] = true
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !assign.MatchString(line) || strings.HasPrefix(line, "export ") {
			t.Errorf("%s:%d: not VARIABLE=value: %q", envFile, n+1, line)
		}
	}
	serveVars := serveEnvVars(t)
	for _, v := range serveVars {
		if !mentioned[v] {
			t.Errorf("%s does not document %s", envFile, v)
		}
	}
	for v := range mentioned {
		if !slices.Contains(serveVars, v) {
			t.Errorf("%s sets %s, which serve does not read", envFile, v)
		}
	}
}
