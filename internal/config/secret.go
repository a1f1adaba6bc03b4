package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Secret is a reference to a secret value; exactly one field is set. The
// clear value is never held in a Config, never stored, and never printed:
// String and JSON show the reference only (an age value is ciphertext).
//
//	{env: NAME}   the daemon's environment variable NAME
//	{file: PATH}  the contents of PATH (one trailing newline trimmed);
//	              relative paths are relative to the daemon's working directory
//	{age: ARMOR}  an age-encrypted value ("-----BEGIN AGE ENCRYPTED FILE-----"),
//	              decrypted with the daemon's identity file (--age-identity)
type Secret struct {
	Env  string `yaml:"env" json:"env,omitempty"`
	File string `yaml:"file" json:"file,omitempty"`
	Age  string `yaml:"age" json:"age,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// String shows the reference, never a value: "env:NAME", "file:PATH" or
// "age:" followed by the first 12 characters of the ciphertext and "…".
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	case s.Age != "":
		body := s.Age
		if i := strings.Index(body, armor.Header); i >= 0 {
			body = body[i+len(armor.Header):]
		}
		body = strings.Join(strings.Fields(body), "")
		if len(body) > 12 {
			body = body[:12]
		}
		return "age:" + body + "…"
	default:
		return "<empty secret reference>"
	}
}

// GoString is used by %#v; it shows the reference only.
func (s Secret) GoString() string { return "config.Secret{" + s.String() + "}" }

// Format makes every fmt verb (%v, %+v, %s, %q, %#v) print the reference
// only, never a value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// IsZero reports whether no reference is set.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && s.Age == "" }

// Errors Resolve wraps; check with errors.Is.
var (
	// ErrEnvNotSet: the environment variable of an {env: NAME} is not set.
	ErrEnvNotSet = errors.New("environment variable is not set")
	// ErrNoAgeIdentity: an {age: ...} value needs an identity and the
	// Resolver has none.
	ErrNoAgeIdentity = errors.New("no age identity configured (--age-identity)")
	// ErrAgeNoMatch: none of the Resolver's identities decrypts the value.
	ErrAgeNoMatch = errors.New("no age identity matches the value")
	// ErrEmptySecret: the reference sets no field.
	ErrEmptySecret = errors.New("empty secret reference")
)

// Resolver turns secret references into clear values, at the moment a run
// needs them. The zero value resolves env and file references from the
// process; age references need Identities. Safe for concurrent use.
type Resolver struct {
	// Identities decrypt {age: ...} values (from the --age-identity file).
	Identities []age.Identity
	// LookupEnv defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// maxSecretFile bounds what a {file: PATH} secret may hold.
const maxSecretFile = 1 << 20

// Resolve returns the clear value of s. Errors name the reference (the env
// variable or file) but never contain a value.
func (r *Resolver) Resolve(s Secret) (string, error) {
	switch {
	case s.Env != "":
		lookup := os.LookupEnv
		if r != nil && r.LookupEnv != nil {
			lookup = r.LookupEnv
		}
		v, ok := lookup(s.Env)
		if !ok {
			return "", fmt.Errorf("resolve secret env:%s: %w", s.Env, ErrEnvNotSet)
		}
		return v, nil
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			return "", fmt.Errorf("resolve secret file:%s: %w", s.File, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return "", fmt.Errorf("resolve secret file:%s: %w", s.File, err)
		}
		if len(b) > maxSecretFile {
			return "", fmt.Errorf("resolve secret file:%s: larger than %s", s.File, ByteSize(maxSecretFile))
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return string(b), nil
	case s.Age != "":
		if r == nil || len(r.Identities) == 0 {
			return "", fmt.Errorf("resolve secret %s declared at %s: %w", s, s.Pos, ErrNoAgeIdentity)
		}
		rd, err := age.Decrypt(armor.NewReader(strings.NewReader(strings.TrimSpace(s.Age))), r.Identities...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return "", fmt.Errorf("resolve secret %s declared at %s: %w", s, s.Pos, ErrAgeNoMatch)
			}
			// age errors describe the format, never the plaintext.
			return "", fmt.Errorf("resolve secret %s declared at %s: decrypt: %w", s, s.Pos, err)
		}
		b, err := io.ReadAll(io.LimitReader(rd, maxSecretFile+1))
		if err != nil {
			return "", fmt.Errorf("resolve secret %s declared at %s: decrypt: %w", s, s.Pos, err)
		}
		return string(b), nil
	default:
		return "", ErrEmptySecret
	}
}

// ErrInsecureIdentityFile means an age identity file other users may read
// or write: it is refused, as an admin token file is.
var ErrInsecureIdentityFile = errors.New("the age identity file is open to other users")

// LoadAgeIdentities reads age identities (X25519 "AGE-SECRET-KEY-1..." lines,
// comments and blank lines allowed) from path, as written by age-keygen.
// A file with any group or other permission bit is refused with
// ErrInsecureIdentityFile and the chmod that fixes it.
func LoadAgeIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load age identities: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load age identities: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load age identities from %s (mode %04o): %w; run chmod 600 %s",
			path, perm, ErrInsecureIdentityFile, path)
	}
	ids, err := age.ParseIdentities(bufio.NewReader(io.LimitReader(f, maxSecretFile)))
	if err != nil {
		// The parse error may quote a line of the file; keep it out.
		return nil, fmt.Errorf("load age identities from %s: not a valid age identity file", path)
	}
	return ids, nil
}
