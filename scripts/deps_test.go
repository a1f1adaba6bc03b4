package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// depsPlan runs scripts/deps in its dry-run mode with extra environment
// and returns the commands it would run (the "+ " lines), its other
// stderr lines, and its stdout.
func depsPlan(t *testing.T, env ...string) (plan, notes []string, stdout string) {
	t.Helper()
	cmd := exec.Command("bash", "deps")
	cmd.Env = append(os.Environ(), append([]string{"DEPS_DRY_RUN=1", "SEMAPHORED_TOOLS=" + t.TempDir()}, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/deps: %v\n%s", err, errb.String())
	}
	for line := range strings.SplitSeq(strings.TrimRight(errb.String(), "\n"), "\n") {
		if cmd, ok := strings.CutPrefix(line, "+ "); ok {
			plan = append(plan, cmd)
		} else if line != "" {
			notes = append(notes, line)
		}
	}
	return plan, notes, out.String()
}

// fakeID puts an `id` that answers uid 1000 first on PATH, so the script
// runs as a user who needs sudo.
func fakeID(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "id"), []byte("#!/bin/sh\necho 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// TestDepsPlanFreshMachine checks what scripts/deps does on a machine with
// nothing but Go, as a user with sudo: it installs the C toolchain the race
// detector needs, keeps DEBIAN_FRONTEND under sudo, lets no service start
// during the install, disables the services of the packages it installed,
// and starts or enables none.
func TestDepsPlanFreshMachine(t *testing.T) {
	plan, _, stdout := depsPlan(t, "DEPS_ASSUME_MISSING=1", fakeID(t))
	if len(plan) == 0 {
		t.Fatal("no plan printed")
	}
	find := func(re string) int {
		for i, cmd := range plan {
			if regexp.MustCompile(re).MatchString(cmd) {
				return i
			}
		}
		return -1
	}
	install := find(`apt-get install`)
	if install < 0 {
		t.Fatalf("no apt-get install in the plan:\n%s", strings.Join(plan, "\n"))
	}
	cmd := plan[install]
	if !strings.HasPrefix(cmd, "sudo env DEBIAN_FRONTEND=noninteractive apt-get install ") {
		t.Errorf("install: %q; want it to start with sudo env DEBIAN_FRONTEND=noninteractive (sudo drops a plain variable)", cmd)
	}
	pkgs := strings.Fields(cmd)
	for _, want := range []string{"gcc", "libc6-dev", "git", "ansible-core", "openssh-server", "prometheus", "chromium", "python3-aiosmtpd", "--no-install-recommends", "-y"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("install lacks %s: %q", want, cmd)
		}
	}
	if update := find(`apt-get update`); update < 0 || update > install || !strings.HasPrefix(plan[update], "sudo env DEBIAN_FRONTEND=noninteractive ") {
		t.Errorf("want an apt-get update under sudo env before the install:\n%s", strings.Join(plan, "\n"))
	}
	policy := find(`exit 101.*> /usr/sbin/policy-rc\.d`)
	unpolicy := find(`^sudo rm -f /usr/sbin/policy-rc\.d$`)
	if policy < 0 || policy > install || unpolicy < install {
		t.Errorf("want a policy-rc.d answering 101 written before the install and removed after:\n%s", strings.Join(plan, "\n"))
	}
	disable := find(`^sudo systemctl disable `)
	if disable < install {
		t.Errorf("want the new services disabled after the install:\n%s", strings.Join(plan, "\n"))
	} else {
		units := strings.Fields(plan[disable])
		for _, u := range []string{"ssh.service", "ssh.socket", "prometheus.service"} {
			if !slices.Contains(units, u) {
				t.Errorf("disable lacks %s: %q", u, plan[disable])
			}
		}
	}
	for _, cmd := range plan {
		if regexp.MustCompile(`systemctl (start|restart|reload|enable|unmask)|invoke-rc\.d|service \S+ (start|restart)|sshd(\s|$)|prometheus(\s|$).*--`).MatchString(cmd) {
			t.Errorf("the plan starts or enables a service: %q", cmd)
		}
	}
	if find(`go build .*opentofu`) < 0 {
		t.Errorf("want OpenTofu built:\n%s", strings.Join(plan, "\n"))
	}
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); !strings.HasSuffix(lines[len(lines)-1], "/bin") {
		t.Errorf("stdout: %q; want the tools directory on the last line", stdout)
	}
}

// TestDepsPlanWarmMachine checks a second run changes nothing when every
// tool is there (on this machine: skipped where one is missing).
func TestDepsPlanWarmMachine(t *testing.T) {
	for _, p := range []string{"/usr/sbin/sshd", "/usr/include/stdio.h"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is missing here: not a warm machine", p)
		}
	}
	for _, tool := range []string{"gcc", "git", "ansible-playbook", "promtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing here: not a warm machine", tool)
		}
	}
	tools := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(tools, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(tools, "bin", "tofu"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(tools, "tofu.version"), []byte("v1.12.6\n"), 0o644))
	plan, notes, stdout := depsPlan(t, "SEMAPHORED_TOOLS="+tools, "TOFU_VERSION=v1.12.6")
	if len(plan) > 0 || len(notes) > 0 {
		t.Errorf("a warm run plans:\n%s\n%s", strings.Join(plan, "\n"), strings.Join(notes, "\n"))
	}
	if got, want := strings.TrimSpace(stdout), filepath.Join(tools, "bin"); got != want {
		t.Errorf("stdout: %q, want %q", got, want)
	}
}

// TestDepsPackagesExist asks apt (simulating, nothing installed) whether
// the packages of the plan resolve, where apt and its lists are present.
func TestDepsPackagesExist(t *testing.T) {
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		t.Skip("no apt-get here")
	}
	if lists, _ := filepath.Glob("/var/lib/apt/lists/*Packages*"); len(lists) == 0 {
		t.Skip("no apt package lists here (apt-get update has not run)")
	}
	plan, _, _ := depsPlan(t, "DEPS_ASSUME_MISSING=1")
	var pkgs []string
	for _, cmd := range plan {
		if _, rest, ok := strings.Cut(cmd, "apt-get install -y -qq --no-install-recommends "); ok {
			pkgs = strings.Fields(rest)
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("no install in the plan:\n%s", strings.Join(plan, "\n"))
	}
	out, err := exec.Command(apt, append([]string{"install", "-s", "--no-install-recommends"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get install -s %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
}

// TestInstallTofu installs the cached OpenTofu into a directory with the
// documented command, where scripts/deps has built it already (a build
// takes minutes: not done here).
func TestInstallTofu(t *testing.T) {
	cache := os.Getenv("SEMAPHORED_TOOLS")
	if cache == "" {
		home, _ := os.UserCacheDir()
		cache = filepath.Join(home, "semaphored-tools")
	}
	stamp, err := os.ReadFile(filepath.Join(cache, "tofu.version"))
	if err != nil {
		t.Skip("OpenTofu is not built yet (scripts/deps builds it)")
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "install-tofu", dir)
	cmd.Env = append(os.Environ(), "SEMAPHORED_TOOLS="+cache, "TOFU_VERSION="+strings.TrimSpace(string(stamp)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install-tofu: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "tofu"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("installed tofu: %v, %v", fi, err)
	}
	if !strings.Contains(string(out), "installed OpenTofu v") {
		t.Errorf("install-tofu output: %s", out)
	}
}

// TestScriptsParse checks every shell script of the project parses.
func TestScriptsParse(t *testing.T) {
	scripts := []string{"deps", "test", "install-tofu", "bench", "../examples/multi-project/run"}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
