package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxLine is the longest line passed to the sink; longer lines are split
// into pieces of this size.
const maxLine = 64 << 10

// sinkError marks an error returned by the Sink, which ends the run.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// copyLines reads r until EOF and passes each line, masked and stamped
// with the time it was read, to sink in order. A line is ended by "\n"
// (a preceding "\r" is dropped) or by EOF; a line longer than maxLine is
// passed as several pieces of at most maxLine bytes. It returns nil at EOF,
// a *sinkError when the sink failed, or the read error.
func copyLines(r io.Reader, m *masker, sink Sink) error {
	br := bufio.NewReaderSize(r, maxLine)
	split := false // the previous piece was a full buffer without newline
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			full := errors.Is(err, bufio.ErrBufferFull)
			hadNL := b[len(b)-1] == '\n'
			if hadNL {
				b = b[:len(b)-1]
				if len(b) > 0 && b[len(b)-1] == '\r' {
					b = b[:len(b)-1]
				}
			}
			// A newline (or "\r\n") that directly follows a split piece
			// ends that line; it is not an empty line of its own.
			if !(split && hadNL && len(b) == 0) {
				if werr := sink.WriteLine(time.Now(), m.Mask(string(b))); werr != nil {
					return &sinkError{err: werr}
				}
			}
			split = full
			if full {
				continue
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read output: %w", err)
		}
	}
}
