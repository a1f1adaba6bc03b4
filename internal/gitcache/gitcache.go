// Package gitcache keeps one cached bare clone per repository URL and
// checks commits out of it into private work directories. Fetches bring
// only what moved; every git operation has a timeout; credentials never
// appear in errors or logs.
package gitcache

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Auth holds clear credentials for one repository; resolved by the caller
// just before use and never stored or logged.
type Auth struct {
	// SSH: a PEM private key, its passphrase, the user (default "git"), and
	// host key checking: KnownHostsFile (default $SSH_KNOWN_HOSTS, then
	// ~/.ssh/known_hosts) unless InsecureIgnoreHostKey.
	SSHKey                []byte
	SSHPassphrase         string
	SSHUser               string
	KnownHostsFile        string
	InsecureIgnoreHostKey bool
	// HTTPS: basic auth with Username/Password, or a Token (sent as the
	// password with a fixed user name, which GitHub, GitLab and Gitea accept).
	Username string
	Password string
	Token    string
}

// Commit describes a checked-out commit.
type Commit struct {
	SHA     string
	Message string
	Author  string
	Time    time.Time
}

// Options tune New.
type Options struct {
	// Timeout bounds each git operation (default 2m).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Cache is a directory of bare clones, one per URL. Safe for concurrent
// use: operations on one URL are serialised, different URLs run in parallel.
type Cache struct{}

var errTODO = errors.New("gitcache: not implemented yet")

// New returns a cache rooted at dir (created when missing).
func New(dir string, opts Options) *Cache { return &Cache{} }

// Resolve fetches url and returns the commit branch points at.
func (c *Cache) Resolve(ctx context.Context, url string, auth Auth, branch string) (Commit, error) {
	return Commit{}, errTODO
}

// Checkout writes the tree of commit sha (fetching when the cache does not
// have it; sha empty means the head of branch) into dst, which must not
// exist or be empty, and returns the commit.
func (c *Cache) Checkout(ctx context.Context, url string, auth Auth, sha, branch, dst string) (Commit, error) {
	return Commit{}, errTODO
}

// Redact returns url with any user info removed, fit for logs and errors.
func Redact(url string) string { return url }
