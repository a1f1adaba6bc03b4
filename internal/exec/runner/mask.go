package runner

import (
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"sort"
	"strings"
)

// masker replaces secret values in output lines with "***". It is built
// once per run and is safe for concurrent use.
//
// Most lines hold no secret, so a prefilter answers "no match" without
// allocating (a Wu-Manber style block filter): with m the length of the
// shortest pattern of at least 4 bytes, every 4-byte block of every such
// pattern at offsets 0..m-4 is hashed into a 64 Kibit set; any occurrence
// of a pattern then covers a block of the line starting at a multiple of
// m-3, so only those blocks are looked up. A line is handed to the
// replacer only when one of them is in the set or it contains one of the
// (rare) patterns shorter than 4 bytes.
type masker struct {
	r      *strings.Replacer // nil when there is nothing to mask
	short  []string          // patterns shorter than 4 bytes
	set    *[1 << 10]uint64  // hashes of 4-byte blocks of the others
	stride int               // m-3; 0 when there is no long pattern
}

func hash4(v uint32) uint32 { return (v * 0x9E3779B1) >> 16 }

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
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
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
	m := &masker{r: strings.NewReplacer(pairs...), set: new([1 << 10]uint64)}
	minLen := 0
	for _, p := range pats {
		if len(p) < 4 {
			m.short = append(m.short, p)
		} else if minLen == 0 || len(p) < minLen {
			minLen = len(p)
		}
	}
	if minLen == 0 {
		return m
	}
	m.stride = minLen - 3
	for _, p := range pats {
		if len(p) < 4 {
			continue
		}
		for off := 0; off <= minLen-4; off++ {
			h := hash4(binary.LittleEndian.Uint32([]byte(p[off : off+4])))
			m.set[h>>6] |= 1 << (h & 63)
		}
	}
	return m
}

// mayMatch reports whether line may contain a pattern; false is exact.
func (m *masker) mayMatch(line string) bool {
	for _, p := range m.short {
		if strings.Contains(line, p) {
			return true
		}
	}
	if m.stride == 0 {
		return false
	}
	for i := 0; i+4 <= len(line); i += m.stride {
		h := hash4(uint32(line[i]) | uint32(line[i+1])<<8 | uint32(line[i+2])<<16 | uint32(line[i+3])<<24)
		if m.set[h>>6]&(1<<(h&63)) != 0 {
			return true
		}
	}
	return false
}

// Mask returns line with every secret form replaced by "***".
func (m *masker) Mask(line string) string {
	if m.r == nil || !m.mayMatch(line) {
		return line
	}
	return m.r.Replace(line)
}
