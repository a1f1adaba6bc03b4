package config

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr bool
	}{
		{"90s", Duration(90 * time.Second), false},
		{"1h30m", Duration(90 * time.Minute), false},
		{" 5m ", Duration(5 * time.Minute), false},
		{"0s", 0, false},
		{"-1s", 0, true},
		{"5 minutes", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q): got %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"1024", 1024, false},
		{"64MiB", 64 << 20, false},
		{"64 MiB", 64 << 20, false},
		{"100MB", 100e6, false},
		{"512KiB", 512 << 10, false},
		{"1K", 1024, false},
		{"2G", 2 << 30, false},
		{"1TB", 1e12, false},
		{"10B", 10, false},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"MiB", 0, true},
		{"99999999999TiB", 0, true},
		{"64 mebibytes", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseByteSize(%q): got %v, %v; want %v, error %v", tt.in, int64(got), err, int64(tt.want), tt.wantErr)
		}
	}
}

func TestValueStringsAndJSON(t *testing.T) {
	if got, want := ByteSize(64<<20).String(), "64MiB"; got != want {
		t.Errorf("ByteSize.String: got %q, want %q", got, want)
	}
	if got, want := ByteSize(1500).String(), "1500B"; got != want {
		t.Errorf("ByteSize.String: got %q, want %q", got, want)
	}
	if got, want := Duration(time.Hour).String(), "1h0m0s"; got != want {
		t.Errorf("Duration.String: got %q, want %q", got, want)
	}
	type pair struct {
		D Duration `json:"d"`
		B ByteSize `json:"b"`
	}
	b, err := json.Marshal(pair{Duration(time.Hour), 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"d":"1h0m0s","b":67108864}`; got != want {
		t.Errorf("JSON: got %s, want %s", got, want)
	}
	var back pair
	if err := json.Unmarshal(b, &back); err != nil || back.D != Duration(time.Hour) || back.B != 64<<20 {
		t.Errorf("JSON round trip: got %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"soon","b":"64MiB"}`), &back); err == nil {
		t.Errorf("Unmarshal bad duration: got no error")
	}
	if err := json.Unmarshal([]byte(`{"d":"2s","b":"1KiB"}`), &back); err != nil || back.B != 1024 || back.D != Duration(2*time.Second) {
		t.Errorf("Unmarshal strings: got %+v, %v", back, err)
	}
}

func TestGlobs(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"main", "main", true},
		{"release/*", "release/1.2", true},
		{"release/*", "release/1.2/hotfix", false},
		{"roles/**", "roles/web/tasks/main.yml", true},
		{"roles/**", "roles", true},
		{"**/*.tf", "network/vpc/main.tf", true},
		{"**/*.tf", "main.tf", true},
		{"src/**/test/*.go", "src/a/b/test/x.go", true},
		{"src/**/test/*.go", "src/test/x.go", true},
		{"src/**/test/*.go", "src/a/x.go", false},
		{"docs/*.md", "docs/a/b.md", false},
		{"[", "[", false},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchGlob(%q, %q): got %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
	for _, bad := range []string{"", "[", "a/**b", "x[-]"} {
		if CheckGlob(bad) == nil {
			t.Errorf("CheckGlob(%q): got nil, want an error", bad)
		}
	}
}

func TestClassifyURL(t *testing.T) {
	tests := []struct {
		url  string
		want URLKind
		repo string
	}{
		{"https://github.com/acme/site.git", URLHTTP, "acme/site"},
		{"http://git.local/group/sub/proj", URLHTTP, "group/sub/proj"},
		{"ssh://git@example.com:2222/acme/x.git", URLSSH, "acme/x"},
		{"git@github.com:acme/site.git", URLSSH, "acme/site"},
		{"file:///srv/git/x.git", URLFile, ""},
		{".", URLLocal, ""},
		{"./repo", URLLocal, ""},
		{"../repo", URLLocal, ""},
		{"/abs/repo", URLLocal, ""},
		{"repo", URLInvalid, ""},
		{"ftp://x/y", URLInvalid, ""},
		{"C:\\repo", URLInvalid, ""},
		{"", URLInvalid, ""},
	}
	for _, tt := range tests {
		if got := ClassifyURL(tt.url); got != tt.want {
			t.Errorf("ClassifyURL(%q): got %v, want %v", tt.url, got, tt.want)
		}
		r := &Repository{URL: tt.url}
		if got := r.ForgeRepo(); got != tt.repo {
			t.Errorf("ForgeRepo(%q): got %q, want %q", tt.url, got, tt.repo)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule("0 3 * * *", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, want := s.Next(from), time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next: got %v, want %v (03:00 Berlin)", got, want)
	}
	for _, bad := range [][2]string{{"61 * * * *", "UTC"}, {"@daily", "Nowhere/City"}, {"CRON_TZ=UTC 0 * * * *", ""}} {
		if _, err := ParseSchedule(bad[0], bad[1]); err == nil {
			t.Errorf("ParseSchedule(%q, %q): got nil, want an error", bad[0], bad[1])
		}
	}
}
