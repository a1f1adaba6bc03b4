package web

import "testing"

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
