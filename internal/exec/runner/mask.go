package runner

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"unicode/utf16"
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
		for _, f := range percentForms(s) {
			add(f)
		}
		for _, f := range jsonForms(s) {
			add(f)
		}
	}
	// Longest first: strings.Replacer prefers the earlier pattern at a
	// position, so a secret that contains another one is masked whole.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// jsonForms returns the forms s takes inside a JSON string, as common
// encoders write it: Go's encoding/json (with and without HTML escaping:
// & < > as \u0026 \u003c \u003e), which is what a job sees when it prints
// its own vars file; the ASCII-only form of Python's json.dumps, PHP and
// others (non-ASCII as \uXXXX, lower-case hex); and each of them with "/"
// written as "\/" (PHP, some Java encoders). Forms equal to s are left out
// (the caller adds s itself).
func jsonForms(s string) []string {
	var out []string
	add := func(f string) {
		if f != s {
			out = append(out, f)
		}
		if strings.Contains(f, "/") {
			out = append(out, strings.ReplaceAll(f, "/", `\/`))
		}
	}
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(s); err != nil {
			continue // not reachable for a string
		}
		q := strings.TrimSuffix(b.String(), "\n")
		add(q[1 : len(q)-1])
	}
	add(asciiJSON(s, false))
	add(asciiJSON(s, true))
	return out
}

// asciiJSON is s as an ASCII-only JSON string body: the short escapes
// \" \\ \b \f \n \r \t, other control characters and every non-ASCII
// character as \uXXXX (surrogate pairs above U+FFFF), hex in upper or
// lower case.
func asciiJSON(s string, upper bool) string {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(digits[r>>shift&0xF])
		}
	}
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			u(r)
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	return b.String()
}

// percentForms returns the percent-encodings of s other than Go's
// url.QueryEscape and url.PathEscape, as other tools write them: space as
// "%20" or "+"; only RFC 3986 unreserved characters kept (curl
// --data-urlencode, Python's quote(safe="")), "/" kept as well (Python's
// quote, path joins), the set JavaScript's encodeURIComponent keeps
// (also !'()*), or the one encodeURI keeps (also ;,/?:@&=+$#); hex digits
// in upper or lower case.
func percentForms(s string) []string {
	const unreserved = "-._~"
	keeps := []string{unreserved, unreserved + "/", unreserved + "!'()*", unreserved + "!'()*;,/?:@&=+$#"}
	var out []string
	for _, keep := range keeps {
		for _, plus := range []bool{false, true} {
			for _, upper := range []bool{true, false} {
				out = append(out, percentEncode(s, keep, plus, upper))
			}
		}
	}
	return out
}

// percentEncode escapes every byte of s but ASCII letters, digits and the
// bytes of keep; a space is "+" when plus is set (and "+" itself is then
// always escaped).
func percentEncode(s, keep string, plus, upper bool) string {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' && plus:
			b.WriteByte('+')
		case c != '+' || !plus:
			if strings.IndexByte(keep, c) >= 0 {
				b.WriteByte(c)
				break
			}
			fallthrough
		default:
			b.WriteByte('%')
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&0xF])
		}
	}
	return b.String()
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
