package link

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KeyFile is the name of the key file in the data directory.
const KeyFile = "link.key"

// DefaultExpiry is how long a link works when settings.links.expiry is unset.
const DefaultExpiry = 90 * 24 * time.Hour

// keySize is the length of the HMAC key in bytes.
const keySize = 32

// Errors Verify returns; check with errors.Is. ErrMissing maps to 401,
// the others to 403.
var (
	ErrMissing = errors.New("link signature missing")
	ErrInvalid = errors.New("link signature invalid")
	ErrExpired = errors.New("link expired")
)

// Signer makes and checks signed task links. Safe for concurrent use; it
// holds only the key, which is never logged or returned.
type Signer struct {
	key []byte
	now func() time.Time
}

// New returns a Signer with key (at least 16 bytes). now nil means time.Now.
func New(key []byte, now func() time.Time) (*Signer, error) {
	if len(key) < 16 {
		return nil, errors.New("link key: shorter than 16 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: append([]byte(nil), key...), now: now}, nil
}

// LoadOrCreateKey reads DIR/link.key, creating it with 32 random bytes and
// mode 0600 when it does not exist. A key file readable by others, or of
// the wrong size, is an error.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("link key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKey(dir) // created by someone else meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("link key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("link key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("link key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("link key %s: mode %04o is readable by others; chmod 600 it", path, st.Mode().Perm())
	}
	if len(b) != keySize {
		return nil, fmt.Errorf("link key %s: %d bytes, want %d", path, len(b), keySize)
	}
	return b, nil
}

// mac returns the signature of task id and expiry (Unix seconds). The
// message is domain-separated so that a signature made for something else
// with the same key can never pass.
func (s *Signer) mac(id uint64, exp int64) []byte {
	var msg [len("semaphored task link v1") + 16]byte
	n := copy(msg[:], "semaphored task link v1")
	binary.BigEndian.PutUint64(msg[n:], id)
	binary.BigEndian.PutUint64(msg[n+8:], uint64(exp))
	h := hmac.New(sha256.New, s.key)
	h.Write(msg[:])
	return h.Sum(nil)
}

// Query returns the query string (without "?") that opens task id until
// now+ttl: "exp=UNIX&sig=BASE64URL".
func (s *Signer) Query(id uint64, ttl time.Duration) string {
	if ttl <= 0 {
		ttl = DefaultExpiry
	}
	exp := s.now().Add(ttl).Unix()
	return "exp=" + strconv.FormatInt(exp, 10) + "&sig=" + base64.RawURLEncoding.EncodeToString(s.mac(id, exp))
}

// URL returns the signed link to task id's page under publicURL.
func (s *Signer) URL(publicURL string, id uint64, ttl time.Duration) string {
	return strings.TrimRight(publicURL, "/") + "/tasks/" + strconv.FormatUint(id, 10) + "?" + s.Query(id, ttl)
}

// Verify checks that q (a request's query) carries a valid, unexpired
// signature for task id. ErrMissing when there is no signature; ErrInvalid,
// ErrExpired or ErrMismatch otherwise (the last when the signature is valid
// for no task but this one... that is, the link was made for another id).
func (s *Signer) Verify(id uint64, q url.Values) error {
	sig, exp := q.Get("sig"), q.Get("exp")
	if sig == "" && exp == "" {
		return ErrMissing
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || e <= 0 {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return ErrInvalid
	}
	if !hmac.Equal(got, s.mac(id, e)) {
		return ErrInvalid
	}
	if s.now().Unix() >= e {
		return ErrExpired
	}
	return nil
}
