package config

import (
	"net/url"
	"strings"
)

// URLKind classifies a repository URL.
type URLKind int

// The kinds of repository URL.
const (
	URLInvalid URLKind = iota
	URLHTTP            // https:// or http://
	URLSSH             // ssh:// (also git+ssh://, ssh+git://) or scp-like [user@]host:path
	URLFile            // file://
	URLLocal           // a local path: absolute, ".", "./..." or "../..."
	URLGit             // git:// (the unauthenticated git protocol)
)

// String names the kind.
func (k URLKind) String() string {
	switch k {
	case URLHTTP:
		return "http"
	case URLSSH:
		return "ssh"
	case URLFile:
		return "file"
	case URLLocal:
		return "local"
	case URLGit:
		return "git"
	}
	return "invalid"
}

// ClassifyURL tells what kind of repository URL s is. It is the one
// classifier of the daemon: the validator, the engine (which resolves
// local paths against the config root), the git cache and the command
// line (a --config directory or URL) all use it. A relative path must
// start with "." so that it is never mistaken for a host.
func ClassifyURL(s string) URLKind {
	scheme, _, hasScheme := strings.Cut(s, "://")
	switch {
	case s == "":
		return URLInvalid
	case hasScheme:
		return classifyScheme(strings.ToLower(scheme), s)
	case s == "." || s == ".." || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../"):
		return URLLocal
	}
	// scp-like: [user@]host:path, host without a slash before the colon;
	// a one-letter host is a Windows drive ("C:\\repo"), not a host.
	host, p, ok := strings.Cut(s, ":")
	if ok && len(host) > 1 && p != "" && !strings.ContainsAny(host, "/\\ ") {
		return URLSSH
	}
	return URLInvalid
}

func classifyScheme(scheme, s string) URLKind {
	var kind URLKind
	switch scheme {
	case "https", "http":
		kind = URLHTTP
	case "ssh", "git+ssh", "ssh+git":
		kind = URLSSH
	case "git":
		kind = URLGit
	case "file":
		if len(s) == len("file://") {
			return URLInvalid
		}
		return URLFile
	default:
		return URLInvalid
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return URLInvalid
	}
	return kind
}
