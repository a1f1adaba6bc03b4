package runner

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// masker replaces secret values in output lines with "***". It is built
// once per run and is safe for concurrent use.
type masker struct {
	r *strings.Replacer // nil when there is nothing to mask
}

// maskPatterns returns every string that must not appear in output for the
// given secrets, longest first and without duplicates: each non-empty
// secret (or, for a multi-line secret, each of its lines of at least 4
// bytes), and the base64 (standard and URL alphabets, with and without
// padding) and URL-encoded (query and path escaping) forms of the value.
func maskPatterns(secrets []string) []string {
	seen := make(map[string]bool)
	var out []string
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
				line = strings.TrimRight(line, "\r")
				if len(line) >= 4 {
					add(line)
				}
			}
		} else {
			add(s)
		}
		b := []byte(s)
		add(base64.StdEncoding.EncodeToString(b))
		add(base64.RawStdEncoding.EncodeToString(b))
		add(base64.URLEncoding.EncodeToString(b))
		add(base64.RawURLEncoding.EncodeToString(b))
		if q := url.QueryEscape(s); !strings.ContainsAny(q, "\r\n") {
			add(q)
		}
		if p := url.PathEscape(s); !strings.ContainsAny(p, "\r\n") {
			add(p)
		}
	}
	// Longest first: strings.Replacer prefers the earlier pattern at a
	// position, so a secret that contains another one is masked whole.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// newMasker builds the masker for secrets.
func newMasker(secrets []string) *masker {
	pats := maskPatterns(secrets)
	if len(pats) == 0 {
		return &masker{}
	}
	pairs := make([]string, 0, 2*len(pats))
	for _, p := range pats {
		pairs = append(pairs, p, "***")
	}
	return &masker{r: strings.NewReplacer(pairs...)}
}

// Mask returns line with every secret form replaced by "***".
func (m *masker) Mask(line string) string {
	if m.r == nil {
		return line
	}
	return m.r.Replace(line)
}
