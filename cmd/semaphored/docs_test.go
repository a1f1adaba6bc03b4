package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink matches an inline Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// mdHeading matches an ATX heading line.
var mdHeading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// slug is the anchor GitHub gives a heading: lower case, punctuation
// other than '-' and '_' dropped, spaces as '-'.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the heading anchors of a Markdown text, outside code
// blocks; a repeated heading gets -1, -2, ... as on GitHub.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		m := mdHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := slug(strings.NewReplacer("`", "", "*", "").Replace(m[1]))
		if n := seen[s]; n > 0 {
			out[s+"-"+itoa(n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// TestDocsLinks checks every relative link of README.md and docs/*.md:
// the file exists, and a #fragment names a heading of it.
func TestDocsLinks(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		files = append(files, rel)
	}
	if len(files) < 10 {
		t.Fatalf("found %d docs files, want README.md and the pages of docs/", len(files))
	}
	texts := map[string]string{}
	read := func(rel string) (string, bool) {
		if s, ok := texts[rel]; ok {
			return s, true
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return "", false
		}
		texts[rel] = string(b)
		return string(b), true
	}
	checked := 0
	for _, name := range files {
		text, _ := read(name)
		inCode := false
		for i, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode
			}
			if inCode {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, frag, _ := strings.Cut(target, "#")
				dest := name
				if file != "" {
					dest = filepath.Clean(filepath.Join(filepath.Dir(name), file))
				}
				checked++
				destText, ok := read(dest)
				if !ok {
					if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
						t.Errorf("%s:%d: link %q: %s does not exist", name, i+1, target, dest)
					}
					continue
				}
				if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(destText)[frag] {
					t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", name, i+1, target, dest, frag)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d links, want at least 20", checked)
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"How changes apply (sync)", "how-changes-apply-sync"},
		{"Files: which ones are declarations", "files-which-ones-are-declarations"},
		{"No secrets in argv", "no-secrets-in-argv"},
		{"serve", "serve"},
		{"Behind a reverse proxy", "behind-a-reverse-proxy"},
	} {
		if got := slug(tc.in); got != tc.want {
			t.Errorf("slug(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// usageCommands are the command names the usage text lists.
func usageCommands(t *testing.T) []string {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	re := regexp.MustCompile(`(?:^|\| )semaphored ([a-z]+)|\| ([a-z]+) ID`)
	for line := range strings.SplitSeq(usage, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "semaphored ") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			n := m[1] + m[2]
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// TestDocsCLI checks docs/cli.md against the binary's own help: every
// command of the usage text has a row, and every flag of every command
// is named (as --flag, or -f for the one-letter ones).
func TestDocsCLI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	cmds := usageCommands(t)
	if len(cmds) < 15 {
		t.Fatalf("found %d commands in the usage text, want every command: %v", len(cmds), cmds)
	}
	flagLine := regexp.MustCompile(`(?m)^\s+-([a-z][a-z-]*)`)
	flags := 0
	for _, name := range cmds {
		if !strings.Contains(doc, "`"+name) {
			t.Errorf("docs/cli.md does not name the command %s", name)
		}
		args := []string{name, "-h"}
		if name == "import" {
			args = []string{"import", "semaphore", "-h"}
		}
		var stdout, stderr strings.Builder
		// -h ends with flag.ErrHelp, which is exit status 0.
		if err := run(t.Context(), args, &stdout, &stderr); err != nil && exitCode(err, io.Discard) != 0 {
			t.Errorf("semaphored %s: %v", strings.Join(args, " "), err)
			continue
		}
		for _, m := range flagLine.FindAllStringSubmatch(stdout.String()+stderr.String(), -1) {
			f := m[1]
			flags++
			want := "--" + f
			if len(f) == 1 {
				want = "-" + f
			}
			if !strings.Contains(doc, want) {
				t.Errorf("docs/cli.md does not name %s of semaphored %s", want, name)
			}
		}
	}
	if flags < 40 {
		t.Errorf("found %d flags in the commands' help, want every flag (is the help still printed?)", flags)
	}
}

// metricName matches a metric name of this daemon.
var metricName = regexp.MustCompile(`semaphored_[a-z0-9_]*[a-z0-9]`)

// codeMetrics returns the metric names defined in the Go sources (not
// tests) under root's cmd and internal directories.
func codeMetrics(t *testing.T, root string) map[string]bool {
	t.Helper()
	defined := regexp.MustCompile(`"(semaphored_[a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range defined.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// TestDocsMetrics checks the metric names of the docs against the code:
// docs/monitoring.md names every metric the daemon defines, and no page
// names a metric that does not exist (a histogram's _bucket, _sum and
// _count series count as the histogram).
func TestDocsMetrics(t *testing.T) {
	root := filepath.Join("..", "..")
	code := codeMetrics(t, root)
	if len(code) < 20 {
		t.Fatalf("found %d metric names in the sources, want every metric: %v", len(code), code)
	}
	mon, err := os.ReadFile(filepath.Join(root, "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range code {
		if !strings.Contains(string(mon), "`"+name+"`") {
			t.Errorf("docs/monitoring.md does not list the metric %s", name)
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b), -1) {
			base := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if trimmed, ok := strings.CutSuffix(n, suf); ok && code[trimmed] {
					base = trimmed
				}
			}
			if !code[base] {
				t.Errorf("%s names the metric %s, which the daemon does not define", f, n)
			}
		}
	}
}
