package link

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) || len(k1) != keySize {
		t.Errorf("second load gave another key")
	}
	os.Chmod(filepath.Join(dir, KeyFile), 0o644)
	if _, err := LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("got %v, want a mode error", err)
	}
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("short"), 0o600)
	os.Chmod(filepath.Join(dir, KeyFile), 0o600)
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Errorf("a short key file loaded")
	}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := New([]byte("0123456789abcdef0123456789abcdef"), clock)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New([]byte("fedcba9876543210fedcba9876543210"), clock)
	good := s.Query(7, time.Hour)
	parse := func(q string) url.Values { v, _ := url.ParseQuery(q); return v }
	tamper := func(q string, f func(url.Values)) url.Values { v := parse(q); f(v); return v }
	cases := []struct {
		name  string
		id    uint64
		q     url.Values
		later time.Duration
		want  error
	}{
		{"valid", 7, parse(good), 0, nil},
		{"valid until just before expiry", 7, parse(good), time.Hour - time.Second, nil},
		{"expired", 7, parse(good), time.Hour, ErrExpired},
		{"missing", 7, url.Values{}, 0, ErrMissing},
		{"another task", 8, parse(good), 0, ErrInvalid},
		{"expiry moved", 7, tamper(good, func(v url.Values) { v.Set("exp", "99999999999") }), 0, ErrInvalid},
		{"signature flipped", 7, tamper(good, func(v url.Values) {
			b := []byte(v.Get("sig"))
			if b[0] == 'A' {
				b[0] = 'B'
			} else {
				b[0] = 'A'
			}
			v.Set("sig", string(b))
		}), 0, ErrInvalid},
		{"signature only", 7, tamper(good, func(v url.Values) { v.Del("exp") }), 0, ErrInvalid},
		{"other key", 7, parse(other.Query(7, time.Hour)), 0, ErrInvalid},
		{"garbage", 7, parse("exp=abc&sig=%%%"), 0, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := now.Add(tc.later)
			s.now = func() time.Time { return at }
			if err := s.Verify(tc.id, tc.q); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	s, _ := New([]byte("0123456789abcdef0123456789abcdef"), nil)
	u := s.URL("https://ci.example.com/", 42, 0)
	if !strings.HasPrefix(u, "https://ci.example.com/tasks/42?exp=") {
		t.Fatalf("got %s", u)
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(42, p.Query()); err != nil {
		t.Errorf("own link: %v", err)
	}
	exp := p.Query().Get("exp")
	if d := time.Until(time.Unix(mustInt(t, exp), 0)); d < DefaultExpiry-time.Minute || d > DefaultExpiry {
		t.Errorf("default expiry %s, want 90 days", d)
	}
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
