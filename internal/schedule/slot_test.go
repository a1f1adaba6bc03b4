package schedule

import (
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSlotsAcrossDST checks slots in two timezones across both DST changes
// of 2026 (Europe: 29 March and 25 October; North America: 8 March and
// 1 November).
func TestSlotsAcrossDST(t *testing.T) {
	tests := []struct {
		name, spec, tz, from string
		want                 []string // UTC
	}{
		{"berlin daily 02:30 across spring forward: the skipped slot runs at 03:30 CEST", "30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"berlin daily 02:30 across fall back: once", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"new york daily 01:30 across fall back: once", "30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"new york daily 02:30 across spring forward", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}},
		{"new york hourly across fall back: every real hour", "@hourly", "America/New_York", "2026-11-01T04:30:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}},
		{"berlin every 15 min in the skipped hour", "*/30 2 * * *", "Europe/Berlin", "2026-03-29T00:45:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"}},
		{"utc weekdays", "0 4 * * 1-5", "UTC", "2026-12-04T05:00:00Z",
			[]string{"2026-12-07T04:00:00Z", "2026-12-08T04:00:00Z"}},
		{"every 30s", "@every 30s", "UTC", "2026-12-01T00:00:10Z",
			[]string{"2026-12-01T00:00:40Z", "2026-12-01T00:01:10Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSlots(tt.spec, tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			at := mustTime(t, tt.from)
			for i, w := range tt.want {
				at = s.next(at)
				if got := at.UTC().Format(time.RFC3339); got != w {
					t.Fatalf("slot %d: got %s (%s), want %s", i, got, at.In(s.loc), w)
				}
			}
		})
	}
}
