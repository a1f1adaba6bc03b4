package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors of Verify. None carries a secret or a received signature.
var (
	// ErrNoSignature means the request carries no signature header.
	ErrNoSignature = errors.New("no signature")
	// ErrBadSignature means the signature or token does not match.
	ErrBadSignature = errors.New("signature does not match")
	// ErrSHA1Refused means a GitHub request is signed with SHA-1 only
	// (X-Hub-Signature); only X-Hub-Signature-256 is accepted.
	ErrSHA1Refused = errors.New("sha1 signature refused: only X-Hub-Signature-256 is accepted")
)

// SignatureHeader is the header Verify reads for forge t.
func SignatureHeader(t Type) string {
	switch t {
	case GitHub:
		return "X-Hub-Signature-256"
	case GitLab:
		return "X-Gitlab-Token"
	case Gitea:
		return "X-Gitea-Signature"
	}
	return ""
}

// Verify authenticates a webhook of forge t with the secret declared for
// its repository: GitHub's "sha256=HEX" HMAC of the body, GitLab's token
// compared as is, Gitea's hex HMAC of the body. Comparisons take constant
// time for a given secret. An empty secret never verifies.
func Verify(t Type, secret []byte, h http.Header, body []byte) error {
	if len(secret) == 0 {
		return ErrBadSignature
	}
	switch t {
	case GitHub:
		sig := h.Get("X-Hub-Signature-256")
		if sig == "" {
			if h.Get("X-Hub-Signature") != "" {
				return ErrSHA1Refused
			}
			return ErrNoSignature
		}
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return ErrBadSignature
		}
		return checkHMAC(secret, hexSig, body)
	case GitLab:
		tok := h.Get("X-Gitlab-Token")
		if tok == "" {
			return ErrNoSignature
		}
		if !EqualSecret([]byte(tok), secret) {
			return ErrBadSignature
		}
		return nil
	case Gitea:
		sig := h.Get("X-Gitea-Signature")
		if sig == "" {
			// Forgejo and newer Gitea also send GitHub's header.
			if s, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256="); ok {
				sig = s
			}
		}
		if sig == "" {
			return ErrNoSignature
		}
		return checkHMAC(secret, sig, body)
	}
	return ErrBadSignature
}

// checkHMAC compares a hex HMAC-SHA256 of body under secret with hexSig.
func checkHMAC(secret []byte, hexSig string, body []byte) error {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the hex HMAC-SHA256 of body under secret, as GitHub (after
// "sha256="), Gitea and HMAC integrations send it.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// EqualSecret compares a received token with the secret in constant time,
// whatever their lengths: both are hashed first, so neither the content nor
// the length of the secret leaks through timing.
func EqualSecret(got, secret []byte) bool {
	a := sha256.Sum256(got)
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && len(secret) > 0
}

// equalFold compares repository names the way forges do: case-insensitive.
func equalFold(a, b string) bool {
	if utf8.ValidString(a) && utf8.ValidString(b) {
		return strings.EqualFold(a, b)
	}
	return a == b
}
