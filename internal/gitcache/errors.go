package gitcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Sentinel kinds of failure; test with errors.Is.
var (
	// ErrAuth means the server refused the credentials (or wanted some).
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound means the repository, branch or commit does not exist.
	ErrNotFound = errors.New("not found")
	// ErrHostKey means ssh host key checking failed: the host is unknown, its
	// key does not match known_hosts, or the known_hosts file is missing.
	ErrHostKey = errors.New("host key verification failed")
	// ErrInvalid means the request itself is wrong (bad URL, relative path,
	// malformed SHA, missing key, non-empty destination).
	ErrInvalid = errors.New("invalid request")
)

// Error is the error every operation of the package returns. Its text holds
// only the redacted URL and a message scrubbed of the credentials in use;
// the go-git error it came from is deliberately not reachable through
// Unwrap, so no caller can print credentials by unwrapping. errors.Is works
// for the sentinels above and for context.DeadlineExceeded/Canceled.
type Error struct {
	// Op is the operation that failed: "fetch", "list", "checkout", "open"...
	Op string
	// URL is the repository URL without user info.
	URL string
	// Transient reports whether retrying later could succeed (network
	// failures, timeouts, server errors) as opposed to auth, not-found,
	// host-key and invalid-request failures.
	Transient bool

	msg   string
	kinds []error
}

// Error returns "OP URL: MESSAGE".
func (e *Error) Error() string {
	if e.URL == "" {
		return e.Op + ": " + e.msg
	}
	return e.Op + " " + e.URL + ": " + e.msg
}

// Unwrap returns the sentinel kinds of the failure.
func (e *Error) Unwrap() []error { return e.kinds }

// IsTransient reports whether err is worth a retry: network failures,
// timeouts and server errors are; authentication, host key, not-found and
// invalid requests are not. A caller's own cancellation is not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Transient
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// scrubber removes the secrets of one operation from error text.
type scrubber []string

func (s scrubber) scrub(msg string) string {
	for _, secret := range s {
		if len(secret) >= 3 {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return redactInText(msg)
}

// redactInText removes user info from any URL that appears in msg.
func redactInText(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, "://")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+3])
		rest := msg[i+3:]
		end := strings.IndexAny(rest, " \t\n\"'")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		msg = rest
	}
}

// newError builds an *Error for a failure of op on the repository whose
// redacted URL is url, classifying cause and scrubbing its text.
func newError(op, url string, s scrubber, cause error) *Error {
	var already *Error
	if errors.As(cause, &already) {
		return already
	}
	e := &Error{Op: op, URL: url, msg: s.scrub(cause.Error())}
	var hk *hostKeyError
	var kerr *knownhosts.KeyError
	var herr *githttp.Err
	var nerr net.Error
	switch {
	case errors.Is(cause, context.Canceled):
		e.kinds = append(e.kinds, context.Canceled)
	case errors.Is(cause, context.DeadlineExceeded):
		e.kinds = append(e.kinds, context.DeadlineExceeded)
		e.Transient = true
	case errors.As(cause, &hk), errors.As(cause, &kerr), errors.Is(cause, ErrHostKey):
		e.kinds = append(e.kinds, ErrHostKey)
	case errors.Is(cause, ErrInvalid):
		e.kinds = append(e.kinds, ErrInvalid)
	case errors.Is(cause, transport.ErrAuthenticationRequired),
		errors.Is(cause, transport.ErrAuthorizationFailed),
		errors.Is(cause, transport.ErrInvalidAuthMethod),
		errors.Is(cause, ErrAuth),
		strings.Contains(cause.Error(), "ssh: unable to authenticate"):
		// x/crypto/ssh reports a refused key only as text.
		e.kinds = append(e.kinds, ErrAuth)
	case errors.Is(cause, transport.ErrRepositoryNotFound),
		errors.Is(cause, transport.ErrEmptyRemoteRepository),
		errors.Is(cause, plumbing.ErrReferenceNotFound),
		errors.Is(cause, plumbing.ErrObjectNotFound),
		errors.Is(cause, ErrNotFound):
		e.kinds = append(e.kinds, ErrNotFound)
	case errors.As(cause, &herr):
		code := herr.StatusCode()
		e.Transient = code >= 500 || code == 429 || code == 408
	case errors.As(cause, &nerr), errors.Is(cause, io.ErrUnexpectedEOF),
		errors.Is(cause, syscall.ECONNREFUSED), errors.Is(cause, syscall.ECONNRESET):
		e.Transient = true
	default:
		var nm git.NoMatchingRefSpecError
		if errors.As(cause, &nm) {
			e.kinds = append(e.kinds, ErrNotFound)
			break
		}
		// Unknown failures of a network operation are worth a retry.
		e.Transient = op == "fetch" || op == "list"
	}
	return e
}

// invalidf returns an ErrInvalid error with a formatted message.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// corruptError marks a failure to read the local object store, which a
// fresh clone repairs.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "cache corrupted: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }
