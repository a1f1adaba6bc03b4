package runner

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMaskPatterns(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    []string
	}{
		{"empty values skipped", []string{"", ""}, nil},
		{
			name:    "all encodings, longest first",
			secrets: []string{"a b/c?"},
			// base64 "YSBiL2M/" (std, padded=raw), url "YSBiL2M_",
			// query "a+b%2Fc%3F", path "a%20b%2Fc%3F"; percent forms
			// with lower-case hex, "/" kept, "?" kept (encodeURI); JSON
			// with "/" as "\/".
			want: []string{
				"a%20b%2Fc%3F", "a%20b%2fc%3f", "a+b%2Fc%3F", "a+b%2fc%3f", "a%20b/c%3F", "a%20b/c%3f",
				"YSBiL2M/", "YSBiL2M_", "a+b/c%3F", "a+b/c%3f", "a%20b/c?", `a b\/c?`, "a b/c?", "a+b/c?",
			},
		},
		{
			name:    "multi-line secret: lines of 4 bytes or more",
			secrets: []string{"line-one\r\nab\nline-3"},
			want: []string{"bGluZS1vbmUNCmFiCmxpbmUtMw==", "bGluZS1vbmUNCmFiCmxpbmUtMw", "line-one%0D%0Aab%0Aline-3", "line-one%0d%0aab%0aline-3",
				`line-one\r\nab\nline-3`, "line-one", "line-3"},
		},
		{"duplicates once", []string{"abcd", "abcd"}, []string{"YWJjZA==", "YWJjZA", "abcd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := maskPatterns(tt.secrets)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if len(got[i]) > len(got[i-1]) {
					t.Errorf("got %q before the longer %q", got[i-1], got[i])
				}
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		line    string
		want    string
	}{
		{"no secrets", nil, "hello", "hello"},
		{"plain", []string{"hunter2"}, "pw=hunter2;", "pw=***;"},
		{"twice", []string{"hunter2"}, "hunter2 hunter2", "*** ***"},
		{"whole line", []string{"hunter2"}, "hunter2", "***"},
		{"base64", []string{"hunter2"}, "auth aHVudGVyMg==", "auth ***"},
		{"base64 raw url", []string{"\xfb\xff\xfe-x"}, "v=-__-LXg", "v=***"},
		{"query escaped", []string{"p@ss word&"}, "u?pw=p%40ss+word%26", "u?pw=***"},
		{"path escaped", []string{"p@ss word&"}, "/p@ss%20word&/", "/***/"},
		{"secret containing another", []string{"abc", "xxabcxx"}, "1 xxabcxx 2 abc", "1 *** 2 ***"},
		{"short secret", []string{"zq"}, "azqb", "a***b"},
		{"multi-line secret line", []string{"first-line\nsecond-line"}, "got second-line here", "got *** here"},
		{"short line of multi-line secret kept", []string{"first-line\nab"}, "ab", "ab"},
		// JSON-escaped forms, as a job printing its vars file shows them.
		{"json html escapes", []string{"a&b<c>d"}, `{"pw":"a\u0026b\u003cc\u003ed"}`, `{"pw":"***"}`},
		{"json without html escapes", []string{"a&b<c>d"}, `{"pw":"a&b<c>d"}`, `{"pw":"***"}`},
		{"json quotes and backslashes", []string{`q"x\y`}, `"pw": "q\"x\\y"`, `"pw": "***"`},
		{"json control characters", []string{"a\tb\x00c\x7f"}, `"a\tb\u0000c\u007f"`, `"***"`},
		{"json newline in a multi-line secret", []string{"line-1\nline-2"}, `{"k":"line-1\nline-2"}`, `{"k":"***"}`},
		{"json ascii only, lower hex", []string{"pässwörd"}, `"p\u00e4ssw\u00f6rd"`, `"***"`},
		{"json ascii only, upper hex", []string{"pässwörd"}, `"p\u00E4ssw\u00F6rd"`, `"***"`},
		{"json astral plane", []string{"x😀y"}, `"x\ud83d\ude00y"`, `"***"`},
		{"json slash escaped", []string{"a/b&c"}, `"a\/b\u0026c"`, `"***"`},
		// URL encodings other than Go's.
		{"space as %20, slash encoded", []string{"p w/x"}, "?p=p%20w%2Fx", "?p=***"},
		{"space as +, slash kept", []string{"p w/x"}, "?p=p+w/x", "?p=***"},
		{"space as %20, slash kept", []string{"p w/x"}, "/p%20w/x", "/***"},
		{"lower-case hex", []string{"p@ss:w/rd"}, "u=p%40ss%3aw%2frd", "u=***"},
		{"encodeURIComponent keeps !'()*", []string{"a!b'c(d)e*f g"}, "v=a!b'c(d)e*f%20g", "v=***"},
		{"encodeURI keeps reserved", []string{"a:b@c&d=e f"}, "v=a:b@c&d=e%20f", "v=***"},
		{"utf-8 bytes, lower hex", []string{"é"}, "v=%c3%a9", "v=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newMasker(tt.secrets).Mask(tt.line); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMaskPrefilter checks that the prefilter never hides a match: random
// lines with secrets of many lengths at every offset must be masked
// exactly as the plain replacer masks them.
func TestMaskPrefilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/+= "
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for round := range 300 {
		var secrets []string
		for range 1 + rng.IntN(5) {
			secrets = append(secrets, word(1+rng.IntN(24)))
		}
		m := newMasker(secrets)
		pats := maskPatterns(secrets)
		pairs := make([]string, 0, 2*len(pats))
		for _, p := range pats {
			pairs = append(pairs, p, "***")
		}
		plain := strings.NewReplacer(pairs...)
		for range 20 {
			var b strings.Builder
			for range rng.IntN(6) {
				b.WriteString(word(rng.IntN(40)))
				b.WriteString(pats[rng.IntN(len(pats))])
			}
			b.WriteString(word(rng.IntN(10)))
			line := b.String()
			if got, want := m.Mask(line), plain.Replace(line); got != want {
				t.Fatalf("round %d, secrets %q, line %q: got %q, want %q", round, secrets, line, got, want)
			}
		}
	}
}

// byteSink collects the lines of a lineSplitter fed by hand.
type byteSink struct{ lines []string }

func (s *byteSink) WriteLine(_ time.Time, line string) error {
	s.lines = append(s.lines, line)
	return nil
}

// TestSplitterChunking feeds the same stream in chunks of every size from
// 1 byte: the lines and their masking never depend on how reads fall.
func TestSplitterChunking(t *testing.T) {
	secret := "split-across-reads"
	stream := "a\r\nsecret=" + secret + "\n\n" + strings.Repeat("L", maxLine+5) + "\n" + strings.Repeat("M", maxLine) + "\r\nlast " + secret
	want := []string{"a", "secret=***", "", strings.Repeat("L", maxLine), "LLLLL", strings.Repeat("M", maxLine), "last ***"}
	for _, size := range []int{1, 2, 3, 7, 100, 4096, maxLine - 1, maxLine, maxLine + 1, len(stream)} {
		sink := &byteSink{}
		s := &lineSplitter{mask: newMasker([]string{secret}), sink: sink}
		for i := 0; i < len(stream); i += size {
			if err := s.write(time.Now(), []byte(stream[i:min(i+size, len(stream))])); err != nil {
				t.Fatal(err)
			}
		}
		if len(s.cur) > 0 {
			if err := s.emit(time.Now(), s.cur, false); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(sink.lines, want) {
			t.Errorf("chunk %d: got %d lines %.80q, want %d lines %.80q", size, len(sink.lines), sink.lines, len(want), want)
		}
	}
}
