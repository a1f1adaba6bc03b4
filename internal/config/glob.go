package config

import (
	"fmt"
	"path"
	"strings"
)

// CheckGlob reports whether pattern is a valid branch or path glob: the
// syntax of path.Match, plus "**" as a whole segment matching any number
// of segments.
func CheckGlob(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("empty glob pattern")
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("invalid glob %q: \"**\" must be a whole path segment", pattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("invalid glob %q: %v", pattern, err)
		}
	}
	return nil
}

// MatchGlob reports whether name (a branch or a slash-separated path)
// matches pattern, with "**" matching zero or more whole segments. An
// invalid pattern matches nothing.
func MatchGlob(pattern, name string) bool {
	if CheckGlob(pattern) != nil {
		return false
	}
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range name {
				if matchSegs(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
