package web

import (
	"strings"
	"testing"
)

func TestANSIToHTML(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain <b>&", "plain &lt;b&gt;&amp;"},
		{"\x1b[0;32mok: [web1]\x1b[0m", `<span class="f32">ok: [web1]</span>`},
		{"\x1b[1m\x1b[31mfatal\x1b[0m rest", `<span class="f31 bo">fatal</span> rest`},
		{"\x1b[38;5;208morange\x1b[39m x", `<span class="c208">orange</span> x`},
		{"\x1b[2Kcleared", "cleared"},
		{"tail \x1b[", "tail "},
		{"\x1b[33mno reset", `<span class="f33">no reset</span>`},
		{"\x1b[1;4;44mx", `<span class="b44 bo un">x</span>`},
		{"\x1b=keypad", "keypad"},
	}
	for _, tc := range cases {
		if got := ANSIToHTML(tc.in); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzANSIToHTML: whatever a job prints, the HTML has no tag but the
// colour spans, and they balance.
func FuzzANSIToHTML(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[0;32mok\x1b[0m", "\x1b[38;5;300m<x>", "\x1b[", "\x1b[1;4;44;38;2;1;2;3mz", "<script>\x1b[31m&", "\x1bc\x1b]0;title\x07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := ANSIToHTML(in)
		rest := strings.ReplaceAll(out, "</span>", "")
		opens := 0
		for {
			i := strings.Index(rest, "<")
			if i < 0 {
				break
			}
			if !strings.HasPrefix(rest[i:], `<span class="`) {
				t.Fatalf("%q: raw tag in %q", in, out)
			}
			opens++
			rest = rest[i+1:]
		}
		if closes := strings.Count(out, "</span>"); closes != opens {
			t.Fatalf("%q: %d spans opened, %d closed: %q", in, opens, closes, out)
		}
	})
}
