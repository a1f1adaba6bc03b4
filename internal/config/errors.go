package config

import (
	"fmt"
	"sort"
	"strings"
)

// String returns "file:line:col", or the parts of it that are known.
func (p Pos) String() string {
	switch {
	case p.File == "":
		return "-"
	case p.Line == 0:
		return p.File
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Error is one problem found in a config tree: where it is, the field path
// (for example "projects.web.templates.deploy.inventory") and what is wrong.
// It never contains a secret value.
type Error struct {
	Pos  Pos
	Path string
	Msg  string
}

// Error returns "file:line:col: path: message".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Path + ": " + e.Msg
}

// Errors is every problem found by one Load, sorted by file, line and
// column. Load returns it as its error when anything is wrong; use
// errors.As to get at the individual problems.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if es[i].Path != es[j].Path {
			return es[i].Path < es[j].Path
		}
		return es[i].Msg < es[j].Msg
	})
}

// errs collects problems during one load.
type errs struct {
	list Errors
}

func (c *errs) add(pos Pos, path, format string, args ...any) {
	c.list = append(c.list, &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// closest returns the candidate nearest to s by edit distance, or "" when
// none is close enough to be a plausible typo.
func closest(s string, candidates []string) string {
	if len(s) > 64 || len(candidates) > 1000 {
		return "" // not worth the quadratic work; names are short
	}
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
