package runner

import (
	"strings"
	"testing"
)

// FuzzMask checks the masking of log lines against arbitrary secrets and
// lines: the prefiltered masker replaces exactly as a plain replacer of
// the same patterns does, and no form of a secret survives in a line
// made of text around one of its forms. (A pattern holding "*" is not
// checked: the "***" mask itself may rebuild it.)
func FuzzMask(f *testing.F) {
	seeds := []struct {
		secret, other, prefix, suffix string
		form                          uint8
	}{
		{"hunter2", "", "pw=", ";", 0},
		{"p&ss<w>rd", "x", `{"pw":"`, `"}`, 7},
		{"a b/c?", "", "https://u:", "@host/", 3},
		{"line-one\nline-two", "", "", "", 5},
		{"pässwörd😀", "zz", "v=", "", 9},
		{"\x00\x01\x7f\"\\", "", "", "", 11},
		{"abc", "xxabcxx", "1 ", " 2", 1},
		{"%41", "A", "", "", 2},
		{"\xff\xfe", "", "", "", 4},
		{"q", "", "", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.secret, s.other, s.prefix, s.suffix, s.form)
	}
	f.Fuzz(func(t *testing.T, secret, other, prefix, suffix string, form uint8) {
		if len(secret) > 64 || len(other) > 64 || len(prefix) > 1024 || len(suffix) > 1024 {
			return
		}
		secrets := []string{secret, other}
		pats := maskPatterns(secrets)
		if len(pats) == 0 {
			if got := newMasker(secrets).Mask(prefix + suffix); got != prefix+suffix {
				t.Fatalf("no secrets: got %q, want the line unchanged", got)
			}
			return
		}
		line := prefix + pats[int(form)%len(pats)] + suffix
		m := newMasker(secrets)
		got := m.Mask(line)
		pairs := make([]string, 0, 2*len(pats))
		for _, p := range pats {
			pairs = append(pairs, p, "***")
		}
		if want := strings.NewReplacer(pairs...).Replace(line); got != want {
			t.Fatalf("secrets %q, line %q: masker gave %q, plain replacer %q", secrets, line, got, want)
		}
		for _, p := range pats {
			if !strings.Contains(p, "*") && strings.Contains(got, p) {
				t.Fatalf("secrets %q, line %q: got %q, still holding the form %q", secrets, line, got, p)
			}
		}
		// Masking is line by line: a masked line masks to itself, unless
		// a secret holds "*".
		if !strings.Contains(secret+other, "*") {
			if again := m.Mask(got); again != got {
				t.Fatalf("masking %q again gave %q", got, again)
			}
		}
	})
}
