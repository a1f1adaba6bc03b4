package report

import (
	"slices"
	"strings"
)

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// destination is the part of a target before the first ':' ("github",
// "slack"): a bounded metric label.
func destination(target string) string {
	d, _, _ := strings.Cut(target, ":")
	return d
}
