package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxLine is the longest line passed to the sink; longer lines are split
// into pieces of this size.
const maxLine = 64 << 10

// From the pauseAfter-th read on, a read that returns less than smallRead
// bytes is followed by a pause of readPause before the next read: a
// process printing line by line then finds the reader asleep on a timer
// rather than waiting on the pipe, so its writes do not wake this process
// once per line, and the next read takes many lines at once. A short job
// (a few reads) is read without pauses, so its end is seen at once; a
// process printing nothing leaves the reader blocked in Read (no timer),
// and a busy pipe (large reads) is read without pauses. Lines are stamped
// when read, so a stamp can lag the write by up to readPause.
const (
	smallRead  = 16 << 10
	readPause  = 2 * time.Millisecond
	pauseAfter = 4
)

// sinkError marks an error returned by the Sink, which ends the run.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// lineSplitter cuts a byte stream into lines and passes each, masked, to
// the sink. It is used by one goroutine.
type lineSplitter struct {
	mask *masker
	sink Sink
	cur  []byte // the unfinished line, at most maxLine bytes
	// split is set when the last line passed on was a maxLine piece of a
	// longer line, so that a newline right after it is not an empty line.
	split bool
}

func (s *lineSplitter) emit(t time.Time, b []byte, split bool) error {
	if s.split && !split && len(b) == 0 {
		s.split = false
		return nil
	}
	s.split = split
	if err := s.sink.WriteLine(t, s.mask.Mask(string(b))); err != nil {
		return &sinkError{err: err}
	}
	return nil
}

// write handles one chunk read at time t.
func (s *lineSplitter) write(t time.Time, data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i >= 0 && len(s.cur) == 0 && i <= maxLine {
			// The common case: a whole line inside the chunk.
			line := data[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if err := s.emit(t, line, false); err != nil {
				return err
			}
			data = data[i+1:]
			continue
		}
		seg := data
		if i >= 0 {
			seg = data[:i]
		}
		for len(seg) > 0 {
			if len(s.cur) == maxLine {
				if err := s.emit(t, s.cur, true); err != nil {
					return err
				}
				s.cur = s.cur[:0]
			}
			n := min(maxLine-len(s.cur), len(seg))
			s.cur = append(s.cur, seg[:n]...)
			seg = seg[n:]
		}
		if i < 0 {
			return nil
		}
		line := s.cur
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if err := s.emit(t, line, false); err != nil {
			return err
		}
		s.cur = s.cur[:0]
		data = data[i+1:]
	}
	return nil
}

// copyLines reads r until EOF and passes each line, masked and stamped
// with the time it was read, to sink in order. A line is ended by "\n"
// (a preceding "\r" is dropped) or by EOF; a line longer than maxLine is
// passed as pieces of maxLine bytes. It returns nil at EOF, a *sinkError
// when the sink failed, or the read error.
func copyLines(r io.Reader, m *masker, sink Sink) error {
	s := &lineSplitter{mask: m, sink: sink}
	buf := make([]byte, 64<<10)
	for reads := 1; ; reads++ {
		n, err := r.Read(buf)
		if n > 0 {
			// One timestamp per read: every line completed by this read
			// arrived at the same moment.
			if werr := s.write(time.Now(), buf[:n]); werr != nil {
				return werr
			}
		}
		if reads >= pauseAfter && n > 0 && n < smallRead && err == nil {
			time.Sleep(readPause)
		}
		if err != nil {
			if len(s.cur) > 0 {
				if werr := s.emit(time.Now(), s.cur, false); werr != nil {
					return werr
				}
				s.cur = s.cur[:0]
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read output: %w", err)
		}
	}
}
