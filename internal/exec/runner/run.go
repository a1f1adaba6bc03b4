package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// run is the state of one Run call; it is used by one goroutine only.
type run struct {
	ctx      context.Context // the caller's: Done means stop
	deadline time.Time       // zero: no timeout
	spec     Spec
	sink     Sink
	hooks    Hooks
	mask     *masker
	grace    time.Duration
}

// prepareDirs creates PrivateDir (0700) with its home and tmp directories.
func (r *run) prepareDirs() error {
	if r.spec.PrivateDir == "" {
		return fmt.Errorf("prepare run: no private directory")
	}
	if r.spec.RepoDir == "" {
		return fmt.Errorf("prepare run: no repository directory")
	}
	for _, d := range []string{r.spec.PrivateDir, filepath.Join(r.spec.PrivateDir, "home"), filepath.Join(r.spec.PrivateDir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("prepare run: %w", err)
		}
	}
	return nil
}

// environ is the environment of one process: the base environment, the
// app's variables (extra), then Spec.Env, later ones winning.
func (r *run) environ(extra map[string]string) []string {
	env := baseEnv(r.spec.PrivateDir)
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range r.spec.Env {
		env[k] = v
	}
	env[runDirEnv] = r.spec.PrivateDir // marks the run's processes (see endLeftovers)
	return envList(env)
}

// pathEnv is the PATH the run's processes get.
func (r *run) pathEnv() string {
	if p, ok := r.spec.Env["PATH"]; ok {
		return p
	}
	return baseEnv(r.spec.PrivateDir)["PATH"]
}

// log passes one line of the runner's own (masked) to the sink.
func (r *run) log(line string) error {
	if err := r.sink.WriteLine(time.Now(), r.mask.Mask(line)); err != nil {
		return &sinkError{err: err}
	}
	return nil
}

// interrupted returns the Result of a run that was stopped or timed out
// before its next step, or nil.
func (r *run) interrupted() *Result {
	if r.ctx.Err() != nil {
		return &Result{Status: Stopped, ExitCode: -1, Message: "stopped"}
	}
	if !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
		return r.timeoutResult()
	}
	return nil
}

func (r *run) timeoutResult() *Result {
	return &Result{Status: Error, ExitCode: -1, Message: "timed out after " + r.spec.Timeout.String()}
}

// writePrivate writes data to PrivateDir/name with mode 0600 and returns
// its path.
func (r *run) writePrivate(name string, data []byte) (string, error) {
	p := filepath.Join(r.spec.PrivateDir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return p, nil
}

// writePrivateJSON writes v as JSON to PrivateDir/name (0600). The error
// never holds the values.
func (r *run) writePrivateJSON(name string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: value is not JSON-encodable", name)
	}
	return r.writePrivate(name, b)
}

// entry checks that Spec.Entry names a path inside RepoDir.
func (r *run) entry(what string) (string, error) {
	e := r.spec.Entry
	if e == "" {
		return "", fmt.Errorf("no %s given", what)
	}
	if !filepath.IsLocal(e) {
		return "", fmt.Errorf("%s %q is not inside the repository", what, e)
	}
	return e, nil
}

// exitResult turns the exit code of the last process into a Result.
func exitResult(name string, code int) Result {
	if code == 0 {
		return Result{Status: Success, ExitCode: 0}
	}
	return Result{Status: Failure, ExitCode: code, Message: fmt.Sprintf("%s exited with code %d", name, code)}
}

func displayName(path string) string { return filepath.Base(path) }
