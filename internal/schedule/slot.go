package schedule

import (
	"time"

	"github.com/robfig/cron/v3"

	"github.com/semaphored/semaphored/internal/config"
)

// starBit marks a cron field written as "*" (robfig/cron's spec.go).
const starBit = 1 << 63

// slots is a parsed schedule that computes slots as documented in doc.go.
type slots struct {
	real cron.Schedule // the spec in its location: real-time arithmetic
	// wall is the same spec in UTC, applied to wall-clock readings, for
	// specs with a fixed hour; nil otherwise.
	wall cron.Schedule
	loc  *time.Location
}

func parseSlots(spec, tz string) (slots, error) {
	s, err := config.ParseSchedule(spec, tz)
	if err != nil {
		return slots{}, err
	}
	out := slots{real: s, loc: time.UTC}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		out.loc = ss.Location
		if ss.Hour&starBit == 0 {
			w := *ss
			w.Location = time.UTC
			out.wall = &w
		}
	}
	return out, nil
}

// next returns the first slot strictly after t, or the zero time when
// there is none.
func (s slots) next(t time.Time) time.Time {
	if s.wall == nil {
		return s.real.Next(t)
	}
	l := t.In(s.loc)
	// Start three hours back (more than any DST shift) so that a slot of a
	// gap, run shifted after the jump, is not jumped over; instant drops
	// every slot whose (first) occurrence is not after t.
	w := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC).Add(-3 * time.Hour)
	for range 10000 {
		w = s.wall.Next(w)
		if w.IsZero() {
			return w
		}
		if r := s.instant(w, t); !r.IsZero() {
			return r
		}
	}
	return time.Time{}
}

// instant returns the first real instant whose wall-clock reading in
// s.loc is w (given as UTC fields), or, when w does not exist (a DST gap),
// the instant at the same offset after the jump; zero when that instant is
// not after t. A wall-clock reading that occurs twice counts once.
func (s slots) instant(w, after time.Time) time.Time {
	guess := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, s.loc)
	var offsets []int
	for _, probe := range []time.Time{guess.Add(-3 * time.Hour), guess, guess.Add(3 * time.Hour)} {
		_, off := probe.Zone()
		if len(offsets) == 0 || !containsInt(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var best, gap time.Time
	for _, off := range offsets {
		c := w.Add(-time.Duration(off) * time.Second)
		l := c.In(s.loc)
		valid := l.Hour() == w.Hour() && l.Minute() == w.Minute() && l.Day() == w.Day()
		switch {
		case valid && (best.IsZero() || c.Before(best)):
			best = c
		case !valid && c.After(gap):
			gap = c
		}
	}
	if best.IsZero() && !s.exists(w) {
		best = gap
	}
	if !best.After(after) {
		return time.Time{}
	}
	return best
}

// exists reports whether wall-clock w occurs at all in s.loc.
func (s slots) exists(w time.Time) bool {
	for _, d := range []time.Duration{-3 * time.Hour, 0, 3 * time.Hour} {
		g := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, s.loc).Add(d)
		_, off := g.Zone()
		c := w.Add(-time.Duration(off) * time.Second).In(s.loc)
		if c.Hour() == w.Hour() && c.Minute() == w.Minute() && c.Day() == w.Day() {
			return true
		}
	}
	return false
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
