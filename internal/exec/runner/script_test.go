package runner

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

func TestScripts(t *testing.T) {
	t.Setenv("SEMAPHORED_DAEMON_TOKEN", "daemon-secret-value")
	tests := []struct {
		name    string
		app     config.App
		file    string
		script  string
		args    []string
		vars    map[string]any
		env     map[string]string
		dryRun  bool
		want    Result
		wantOut []string
		wantCmd string
	}{
		{
			name:    "bash args env vars",
			app:     config.AppBash,
			file:    "job.sh",
			script:  "echo \"args=$1,$2\"\necho \"env=$GREETING\"\npython3 -c 'import json,os; print(\"vars=\"+json.load(open(os.environ[\"SEMAPHORED_VARS_FILE\"]))[\"name\"])'\necho \"dry=${SEMAPHORED_DRY_RUN:-0}\"\n",
			args:    []string{"one", "two words"},
			vars:    map[string]any{"name": "world"},
			env:     map[string]string{"GREETING": "hello"},
			want:    Result{Status: Success, ExitCode: 0},
			wantOut: []string{"args=one,two words", "env=hello", "vars=world", "dry=0"},
			wantCmd: "$ bash job.sh one 'two words'",
		},
		{
			name:    "python args vars dry run",
			app:     config.AppPython,
			file:    "job.py",
			script:  "import json, os, sys\nprint('args=' + ','.join(sys.argv[1:]))\nprint('vars=%d' % json.load(open(os.environ['SEMAPHORED_VARS_FILE']))['n'])\nprint('dry=' + os.environ.get('SEMAPHORED_DRY_RUN', '0'))\n",
			args:    []string{"a", "b"},
			vars:    map[string]any{"n": 42},
			dryRun:  true,
			want:    Result{Status: Success, ExitCode: 0},
			wantOut: []string{"args=a,b", "vars=42", "dry=1"},
			wantCmd: "$ python3 job.py a b",
		},
		{
			name:    "bash exit code",
			app:     config.AppBash,
			file:    "job.sh",
			script:  "echo failing\nexit 3\n",
			want:    Result{Status: Failure, ExitCode: 3, Message: "bash exited with code 3"},
			wantOut: []string{"failing"},
		},
		{
			name:    "python exit code",
			app:     config.AppPython,
			file:    "job.py",
			script:  "import sys\nprint('x')\nsys.exit(7)\n",
			want:    Result{Status: Failure, ExitCode: 7, Message: "python3 exited with code 7"},
			wantOut: []string{"x"},
		},
		{
			name:    "minimal environment",
			app:     config.AppBash,
			file:    "job.sh",
			script:  "env | cut -d= -f1 | sort\n",
			env:     map[string]string{"EXTRA": "1"},
			want:    Result{Status: Success, ExitCode: 0},
			wantOut: []string{"EXTRA", "HOME", "LANG", "PATH", "PWD", "PYTHONUNBUFFERED", "SEMAPHORED_RUN_DIR", "SEMAPHORED_VARS_FILE", "SHLVL", "TMPDIR", "_"},
		},
		{
			name:   "entry outside repository",
			app:    config.AppBash,
			file:   "job.sh",
			script: "true\n",
			want:   Result{Status: Error, ExitCode: -1, Message: `script "../job.sh" is not inside the repository`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := scriptSpec(t, tt.app, tt.file, tt.script)
			spec.Arguments = tt.args
			spec.Vars = tt.vars
			spec.Env = tt.env
			spec.DryRun = tt.dryRun
			if tt.name == "entry outside repository" {
				spec.Entry = "../job.sh"
			}
			res, sink := runSpec(t, spec)
			if res != tt.want {
				t.Fatalf("got %+v, want %+v; output:\n%s", res, tt.want, sink.joined())
			}
			if got := sink.output(); tt.wantOut != nil && !slices.Equal(got, tt.wantOut) {
				t.Errorf("got output %q, want %q", got, tt.wantOut)
			}
			if tt.wantCmd != "" {
				if got := sink.Lines()[0]; !strings.HasPrefix(got, tt.wantCmd) {
					t.Errorf("got command line %q, want prefix %q", got, tt.wantCmd)
				}
			}
			if strings.Contains(sink.joined(), "daemon-secret-value") {
				t.Errorf("the daemon's environment leaked into the job")
			}
		})
	}
}

func TestVarsFileMode(t *testing.T) {
	spec := bashSpec(t, "stat -c %a \"$SEMAPHORED_VARS_FILE\"\nstat -c %a \"$HOME\" \"$TMPDIR\"\n")
	spec.Vars = map[string]any{"password": "x"}
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success", res)
	}
	if got, want := sink.output(), []string{"600", "700", "700"}; !slices.Equal(got, want) {
		t.Errorf("got modes %q, want %q", got, want)
	}
}

func TestPowerShellMissing(t *testing.T) {
	spec := scriptSpec(t, config.AppPowerShell, "job.ps1", "Write-Output hi\n")
	dir := t.TempDir()
	spec.Env = map[string]string{"PATH": dir}
	res, _ := runSpec(t, spec)
	// The message names the tool, where it was looked for, and where to read how to get it.
	want := Result{Status: Error, ExitCode: -1, Message: "pwsh: executable not found in PATH=" + dir + ` (to install it, see "Tools for real runs" in the README)`}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		minWait time.Duration
	}{
		{"terminates on SIGTERM", "echo started\nsleep 60 & wait\n", 0},
		{"ignores SIGTERM, killed after grace", "trap '' TERM\necho started\nwhile true; do sleep 0.05; done\n", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := bashSpec(t, tt.script)
			spec.Grace = 300 * time.Millisecond
			sink := newMemSink("started")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := startJob(t, ctx, spec, sink, 10*time.Second, "the job never started")
			start := time.Now()
			cancel()
			var res Result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after stop")
			}
			took := time.Since(start)
			want := Result{Status: Stopped, ExitCode: -1, Message: "stopped"}
			if res != want {
				t.Errorf("got %+v, want %+v", res, want)
			}
			if took < tt.minWait {
				t.Errorf("got stop after %s, want at least the grace %s", took, tt.minWait)
			}
			if took > 5*time.Second {
				t.Errorf("got stop after %s, want well under 5s", took)
			}
			if out := sink.joined(); strings.Contains(out, "output still open") {
				t.Errorf("got the group's children outliving the stop:\n%s", out)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	spec := bashSpec(t, "trap '' TERM\necho started\nwhile true; do sleep 0.05; done\n")
	spec.Timeout = 300 * time.Millisecond
	spec.Grace = 200 * time.Millisecond
	start := time.Now()
	res, sink := runSpec(t, spec)
	want := Result{Status: Error, ExitCode: -1, Message: "timed out after 300ms"}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("got run time %s, want timeout+grace (~500ms)", took)
	}
	if got := sink.output(); !slices.Equal(got, []string{"started"}) {
		t.Errorf("got output %q, want [started]", got)
	}
}

func TestStoppedBeforeStart(t *testing.T) {
	spec := bashSpec(t, "echo never\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := newMemSink("")
	res := Run(ctx, spec, sink, Hooks{})
	if res.Status != Stopped {
		t.Fatalf("got %+v, want stopped", res)
	}
	if len(sink.Lines()) != 0 {
		t.Errorf("got lines %q, want none", sink.Lines())
	}
}

func TestLingeringGrandchild(t *testing.T) {
	// setsid puts the grandchild outside the job's process group, so only
	// the bound on reading ends the run.
	spec := bashSpec(t, "echo main\nsetsid sleep 30 &\nexit 0\n")
	spec.Grace = 300 * time.Millisecond
	start := time.Now()
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success", res)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("got run time %s, want about the grace", took)
	}
	out := sink.output()
	if len(out) != 3 || out[0] != "main" || !strings.HasPrefix(out[1], "output still open 300ms after the process exited") ||
		out[2] != "killed 1 process(es) the job left running" {
		t.Errorf("got output %q, want main, a line about the open output and one about the process killed", out)
	}
}

func TestGrandchildInGroupDrained(t *testing.T) {
	// A background child in the job's group that finishes writing after
	// the main process exits: every line is kept.
	spec := bashSpec(t, "echo main\n(sleep 0.2; for i in 1 2 3; do echo bg$i; done) &\nexit 0\n")
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success", res)
	}
	if got, want := sink.output(), []string{"main", "bg1", "bg2", "bg3"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLineSplitting(t *testing.T) {
	long := strings.Repeat("a", maxLine) + strings.Repeat("b", 10)
	exact := strings.Repeat("c", maxLine)
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"final line without newline", "printf 'one\\ntwo'", []string{"one", "two"}},
		{"crlf", "printf 'one\\r\\ntwo\\r\\n'", []string{"one", "two"}},
		{"empty lines kept", "printf 'a\\n\\nb\\n'", []string{"a", "", "b"}},
		{"long line split", "printf '%s\\nend\\n' " + long, []string{long[:maxLine], long[maxLine:], "end"}},
		{"line of exactly 64 KiB", "printf '%s\\nend\\n' " + exact, []string{exact, "end"}},
		{"stdout and stderr in order", "for i in 1 2 3; do echo out$i; echo err$i >&2; done", []string{"out1", "err1", "out2", "err2", "out3", "err3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, sink := runSpec(t, bashSpec(t, tt.script))
			if res.Status != Success {
				t.Fatalf("got %+v, want success", res)
			}
			if got := sink.output(); !slices.Equal(got, tt.want) {
				t.Errorf("got %d lines %.200q, want %d lines %.200q", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

type failSink struct{ after, n int }

func (s *failSink) WriteLine(time.Time, string) error {
	s.n++
	if s.n > s.after {
		return errFull
	}
	return nil
}

var errFull = &sinkFullError{}

type sinkFullError struct{}

func (*sinkFullError) Error() string { return "state: log store full" }

func TestSinkError(t *testing.T) {
	spec := bashSpec(t, "while true; do echo line; done\n")
	start := time.Now()
	res := Run(context.Background(), spec, &failSink{after: 100}, Hooks{})
	want := Result{Status: Error, ExitCode: -1, Message: "state: log store full"}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("got %s, want the run ended promptly", took)
	}
}

func TestMaskingOutput(t *testing.T) {
	secret := "s3cr3t-P@ss/word+="
	multi := "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\nab\n-----END KEY-----"
	spec := bashSpec(t, `
echo "plain $SECRET end"
echo "std $(printf %s "$SECRET" | base64 -w0)"
python3 - <<'PY'
import base64, os, sys, time, urllib.parse
s = os.environ["SECRET"].encode()
print("url", base64.urlsafe_b64encode(s).decode().rstrip("="), flush=True)
print("query", urllib.parse.quote_plus(s), flush=True)
print("path", urllib.parse.quote(s, safe=""), flush=True)
# the secret one byte per write, each flushed
sys.stdout.write("split ")
for b in s:
    sys.stdout.write(chr(b)); sys.stdout.flush(); time.sleep(0.002)
sys.stdout.write(" done\n"); sys.stdout.flush()
PY
printf '%s\n' "$MULTI"
`)
	spec.Env = map[string]string{"SECRET": secret, "MULTI": multi}
	spec.Secrets = []string{secret, multi, ""}
	res, sink := runSpec(t, spec)
	if res.Status != Success {
		t.Fatalf("got %+v, want success; output %q", res, sink.Lines())
	}
	want := []string{"plain *** end", "std ***", "url ***", "query ***", "path ***", "split *** done",
		"***", "***", "ab", "***"}
	if got := sink.output(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), url.QueryEscape(secret)} {
		if strings.Contains(sink.joined(), form) {
			t.Errorf("got secret form %q in output", form)
		}
	}
}

// TestSecretsNotOnCommandLine scans every /proc/*/cmdline while a job with
// secret vars, env, become and vault passwords runs.
func TestSecretsNotOnCommandLine(t *testing.T) {
	const secret = "Zq9-very-secret-cmdline-value"
	spec := bashSpec(t, "echo started\nsleep 1 & wait\n")
	spec.Vars = map[string]any{"password": secret}
	spec.Env = map[string]string{"TOKEN": secret}
	spec.Secrets = []string{secret}
	sink := newMemSink("started")
	done := startJob(t, context.Background(), spec, sink, 10*time.Second, "the job never started")
	scanned := scanCmdlines(t, secret)
	if res := <-done; res.Status != Success {
		t.Fatalf("got %+v, want success", res)
	}
	if scanned < 3 {
		t.Errorf("got %d processes scanned, want the job's among many", scanned)
	}
}

// scanCmdlines fails the test when any process's command line holds
// secret, and returns how many it read.
func scanCmdlines(t *testing.T, secret string) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended
		}
		n++
		if strings.Contains(string(b), secret) {
			t.Errorf("got the secret in %s: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return n
}
