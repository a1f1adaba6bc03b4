package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is a build stage: its FROM and what follows it.
type stage struct {
	name, image string
	ins         []instruction
}

// parseDockerfile reads the instructions of a Dockerfile, stage by stage.
// It knows what this Dockerfile uses: comments, parser directives,
// backslash continuations, ARG before the first FROM.
func parseDockerfile(t *testing.T, path string) (globalArgs []instruction, stages []stage) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			globalArgs = append(globalArgs, in)
			return
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return globalArgs, stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes a JSON-array instruction argument.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Fatalf("Dockerfile:%d: %s is not in exec form: %v", in.line, in.cmd, err)
	}
	return v
}

// envVars parses ENV K=V pairs (quotes not used here).
func envVars(s stage) map[string]string {
	out := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// serveEnvVars lists the environment variables behind serve's flags, from
// its own help.
func serveEnvVars(t *testing.T) []string {
	t.Helper()
	_, stderr, _ := runCmd(t, "serve", "-h")
	var out []string
	for _, m := range regexp.MustCompile(`\$(SEMAPHORED_[A-Z_]+)`).FindAllStringSubmatch(stderr, -1) {
		out = append(out, m[1])
	}
	if len(out) < 5 {
		t.Fatalf("serve -h lists too few variables:\n%s", stderr)
	}
	return out
}

// TestDockerfile checks what can be checked of the image without a
// container engine: the stages, the static build, the tools, the user,
// the volume and paths against the daemon's own flags, and that the
// HEALTHCHECK runs a real subcommand.
func TestDockerfile(t *testing.T) {
	globalArgs, stages := parseDockerfile(t, "../../Dockerfile")
	if len(stages) < 3 {
		t.Fatalf("got %d stages, want a build, a tofu builder and a runtime", len(stages))
	}
	var build, tofu *stage
	for i := range stages[:len(stages)-1] {
		switch stages[i].name {
		case "build":
			build = &stages[i]
		case "tofu":
			tofu = &stages[i]
		}
	}
	final := stages[len(stages)-1]
	if build == nil || tofu == nil {
		t.Fatalf("stages %v: want ones named build and tofu", stages)
	}
	var argNames []string
	for _, a := range globalArgs {
		argNames = append(argNames, strings.SplitN(a.args, "=", 2)[0])
	}
	resolve := func(image string) string {
		for _, a := range globalArgs {
			k, v, _ := strings.Cut(a.args, "=")
			image = strings.ReplaceAll(image, "${"+k+"}", v)
		}
		return image
	}
	if img := resolve(final.image); !regexp.MustCompile(`^debian:[a-z]+-slim$`).MatchString(img) {
		t.Errorf("runtime image %q, want debian:RELEASE-slim", img)
	}

	// The static, stamped build.
	buildRun := strings.Join(func() []string {
		var s []string
		for _, in := range build.all("RUN") {
			s = append(s, in.args)
		}
		return s
	}(), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/semaphored"} {
		if !strings.Contains(buildRun, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	_ = version // the ldflags set these variables of package main
	_ = commit

	// OpenTofu from its Go module, copied in.
	tofuRun := ""
	for _, in := range tofu.all("RUN") {
		tofuRun += in.args
	}
	for _, want := range []string{"go mod download", "github.com/opentofu/opentofu@${TOFU_VERSION}", "go build", "./cmd/tofu"} {
		if !strings.Contains(tofuRun, want) {
			t.Errorf("tofu stage lacks %q", want)
		}
	}
	if !slices.Contains(argNames, "TOFU_VERSION") {
		t.Error("TOFU_VERSION is not a global ARG")
	}
	copies := map[string]string{}
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
			copies[strings.TrimPrefix(f[0], "--from=")] = f[2]
		}
	}
	if copies["tofu"] != "/usr/local/bin/tofu" || copies["build"] != "/usr/local/bin/semaphored" {
		t.Errorf("runtime copies %v, want tofu and semaphored into /usr/local/bin", copies)
	}

	// The job tools.
	var install string
	for _, in := range final.all("RUN") {
		if strings.Contains(in.args, "apt-get install") {
			install = in.args
		}
	}
	pkgs := strings.Fields(install)
	for _, want := range []string{"git", "openssh-client", "ansible-core", "python3", "tini", "ca-certificates"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("runtime does not install %s", want)
		}
	}

	// A non-root user that exists, owning /data.
	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("got %d USER instructions, want 1", len(users))
	}
	uid, gid, _ := strings.Cut(users[0].args, ":")
	if uid == "0" || uid == "root" || gid == "0" {
		t.Errorf("USER %s runs as root", users[0].args)
	}
	if _, err := strconv.Atoi(uid); err != nil {
		t.Errorf("USER %s: use a numeric uid so runtimes can check it is not root", users[0].args)
	}
	if !strings.Contains(install, "--uid "+uid) || !strings.Contains(install, "chown "+uid+":"+gid+" /data") {
		t.Errorf("the runtime does not create uid %s or give it /data", uid)
	}

	// Volume and paths match the daemon's flags and their variables.
	env := envVars(final)
	serveVars := serveEnvVars(t)
	for k := range env {
		if strings.HasPrefix(k, "SEMAPHORED_") && !slices.Contains(serveVars, k) {
			t.Errorf("ENV %s is not a variable serve reads (%v)", k, serveVars)
		}
	}
	if env[flagEnv("data")] != "/data" {
		t.Errorf("ENV %s=%q, want /data", flagEnv("data"), env[flagEnv("data")])
	}
	vols := final.all("VOLUME")
	if len(vols) != 1 || !slices.Equal(execForm(t, vols[0]), []string{"/data"}) {
		t.Errorf("VOLUME %v, want [\"/data\"]", vols)
	}
	if wd := final.all("WORKDIR"); len(wd) != 1 || wd[0].args != "/data" {
		t.Errorf("WORKDIR %v, want /data", wd)
	}
	listen := env[flagEnv("listen")]
	cmd := execForm(t, final.all("CMD")[0])
	if i := slices.Index(cmd, "--listen"); cmd[0] != "serve" || i < 0 || i+1 >= len(cmd) || cmd[i+1] != listen {
		t.Errorf("CMD %v: want serve --listen %s, as ENV %s says", cmd, listen, flagEnv("listen"))
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatal(err)
	}
	if exp := final.all("EXPOSE"); len(exp) != 1 || exp[0].args != port {
		t.Errorf("EXPOSE %v, want %s (the listen port)", exp, port)
	}

	// tini starts the binary; the HEALTHCHECK runs a real subcommand of it.
	entry := execForm(t, final.all("ENTRYPOINT")[0])
	if !slices.Equal(entry, []string{"/usr/bin/tini", "--", "/usr/local/bin/semaphored"}) {
		t.Errorf("ENTRYPOINT %v", entry)
	}
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("got %d HEALTHCHECK, want 1", len(hc))
	}
	_, form, ok := strings.Cut(hc[0].args, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q has no CMD", hc[0].args)
	}
	hcCmd := execForm(t, instruction{cmd: "HEALTHCHECK", args: form, line: hc[0].line})
	if hcCmd[0] != "/usr/local/bin/semaphored" || len(hcCmd) != 2 {
		t.Fatalf("HEALTHCHECK runs %v, want the semaphored binary with one subcommand", hcCmd)
	}
	if _, stderr, code := runCmd(t, hcCmd[1], "-h"); code != 0 || !strings.Contains(stderr, "-listen") {
		t.Errorf("HEALTHCHECK subcommand %q: exit %d, help %q", hcCmd[1], code, stderr)
	}

	// Labels.
	labels := ""
	for _, in := range final.all("LABEL") {
		labels += in.args
	}
	for _, l := range []string{"title", "description", "source", "version", "revision", "created"} {
		if !strings.Contains(labels, "org.opencontainers.image."+l+"=") {
			t.Errorf("no org.opencontainers.image.%s label", l)
		}
	}
}

// TestImageUserAndPaths runs the static binary the way the image does, as
// a non-root user (nobody) with a fresh /data-like directory, the image's
// environment and working directory, and its HEALTHCHECK command.
func TestImageUserAndPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to the nobody user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody user")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// A directory nobody can traverse holding the binary, a data directory
	// owned by nobody (the image's chown), and a home.
	root, err := os.MkdirTemp("", "semaphored-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "semaphored")
	src, err := os.ReadFile(semaphoredBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	data, home := filepath.Join(root, "data"), filepath.Join(root, "home")
	for _, d := range []string{data, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := func(ctx context.Context, env []string, args ...string) *exec.Cmd {
		full := append([]string{"--reuid=" + nobody.Uid, "--regid=" + nobody.Gid, "--clear-groups", "--", bin}, args...)
		c := exec.CommandContext(ctx, setpriv, full...)
		c.Dir = data
		c.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "SEMAPHORED_DATA=" + data}, env...)
		return c
	}

	// serve, as the image's CMD, on a free loopback port.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := asNobody(ctx, []string{"SEMAPHORED_LISTEN=127.0.0.1:0"}, "serve")
	serve.Cancel = func() error { return serve.Process.Signal(syscall.SIGTERM) }
	serve.WaitDelay = 15 * time.Second
	pr, pw := io.Pipe()
	var logs serveLog
	serve.Stderr = io.MultiWriter(pw, &logs)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait(); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := serveListenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var listen string
	select {
	case listen = <-addr:
	case err := <-exited:
		t.Fatalf("serve as nobody exited: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not log its address:\n%s", logs.String())
	}

	// The HEALTHCHECK, as nobody, with the image's variable.
	var out []byte
	testenv.WaitFor(t, "the healthcheck to pass", 10*time.Second, func() bool {
		out, err = asNobody(ctx, []string{"SEMAPHORED_LISTEN=" + listen}, "healthcheck").CombinedOutput()
		return err == nil
	})
	if !strings.Contains(string(out), "/healthz: ok") {
		t.Errorf("healthcheck output: %s", out)
	}

	// What the daemon wrote belongs to nobody, private.
	for _, name := range []string{"state.db", "admin.token"} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, logs.String())
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: owner %d mode %v; want nobody and no access for others", name, st.Uid, fi.Mode().Perm())
		}
	}

	// SIGTERM (what tini forwards on docker stop) ends it cleanly.
	cancel()
	select {
	case err := <-exited:
		if err != nil && !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}

	// With the daemon gone the healthcheck fails.
	if out, err := asNobody(context.Background(), []string{"SEMAPHORED_LISTEN=" + listen}, "healthcheck", "--timeout", "1s").CombinedOutput(); err == nil {
		t.Errorf("healthcheck passed with no daemon: %s", out)
	}
}

// serveListenRE finds the address serve logs once it listens.
var serveListenRE = regexp.MustCompile(`listen=(127\.0\.0\.1:\d+)`)

// serveLog collects a daemon's output written from another goroutine.
type serveLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
