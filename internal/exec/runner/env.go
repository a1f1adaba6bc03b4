package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// defaultPath is used when the daemon itself has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseEnv returns the minimal environment of every process of a run:
// the daemon's PATH, HOME and TMPDIR inside PrivateDir, LANG=C.UTF-8.
// Nothing else of the daemon's environment is passed on.
func baseEnv(privateDir string) map[string]string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	return map[string]string{
		"PATH":   path,
		"HOME":   filepath.Join(privateDir, "home"),
		"LANG":   "C.UTF-8",
		"TMPDIR": filepath.Join(privateDir, "tmp"),
	}
}

// envList flattens env into a sorted KEY=VALUE list.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// errNotFound is returned by lookPath for a missing executable.
var errNotFound = errors.New("executable not found")

// lookPath finds name in the directories of pathEnv (the PATH the process
// will get), so that a PATH given in Spec.Env is honoured.
func lookPath(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s: %w", name, errNotFound)
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w in PATH=%s (to install it, see \"Tools for real runs\" in the README)", name, errNotFound, pathEnv)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// shellQuote renders argv for the command log line, quoting arguments a
// shell would split. It is for display only: no shell ever runs it.
func shellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
