package gitcache

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/semaphored/semaphored/internal/config"
)

// tokenUser is the user name sent with Auth.Token over HTTPS. GitHub
// documents it for app and Actions tokens and accepts any user with a
// personal access token; GitLab accepts any non-empty user with personal,
// project and group access tokens; Gitea looks the token up and ignores the
// user. (GitLab OAuth tokens need the user "oauth2": set Auth.Username.)
const tokenUser = "x-access-token"

// scpLike matches git's scp-like ssh syntax, [user@]host:path.
var scpLike = regexp.MustCompile(`^(?:([^@/:]+)@)?([^@/:]+):(.*)$`)

type remoteKind int

const (
	kindLocal remoteKind = iota
	kindHTTP
	kindSSH
	kindGit
)

// remote is a parsed repository URL.
type remote struct {
	kind remoteKind
	// fetchURL is what go-git is given: user info removed for http(s).
	fetchURL string
	// redacted is the URL for logs, errors and the cache key.
	redacted string
	// localPath is the absolute path of a local repository or directory.
	localPath string
	// urlUser and urlPassword come from the URL's user info.
	urlUser, urlPassword string
	host                 string
	port                 int
}

// parseRemote parses raw by its kind (config.ClassifyURL): an absolute
// path, a file:// URL, an http(s), ssh or git URL, or an scp-like ssh
// address. Relative paths are refused: the caller resolves them.
func parseRemote(raw string) (remote, error) {
	switch config.ClassifyURL(raw) {
	case config.URLLocal:
		if !filepath.IsAbs(raw) {
			return remote{}, invalidf("relative path %q: the caller must resolve it to an absolute path", raw)
		}
		p := filepath.Clean(raw)
		return remote{kind: kindLocal, localPath: p, fetchURL: p, redacted: p}, nil
	case config.URLFile:
		return parseFileURL(raw)
	case config.URLHTTP, config.URLGit:
		return parseURL(raw)
	case config.URLSSH:
		if strings.Contains(raw, "://") {
			return parseURL(raw)
		}
		m := scpLike.FindStringSubmatch(raw)
		if m == nil {
			return remote{}, invalidf("malformed ssh address %s", Redact(raw))
		}
		r := remote{kind: kindSSH, urlUser: m[1], host: m[2], redacted: Redact(raw)}
		user := m[1]
		if user == "" {
			user = "git"
		}
		r.fetchURL = user + "@" + m[2] + ":" + m[3]
		return r, nil
	}
	switch {
	case raw == "":
		return remote{}, invalidf("empty repository URL")
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		switch strings.ToLower(scheme) {
		case "http", "https", "ssh", "git+ssh", "ssh+git", "git":
			// url.Error quotes the URL: report only the redacted one.
			return remote{}, invalidf("malformed repository URL %s (no host?)", Redact(raw))
		}
		return remote{}, invalidf("unsupported scheme %q in %s", scheme, Redact(raw))
	}
	return remote{}, invalidf("relative path %q: the caller must resolve it to an absolute path", raw)
}

// parseFileURL parses a file:// URL into its absolute local path.
func parseFileURL(raw string) (remote, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return remote{}, invalidf("malformed repository URL %s", Redact(raw))
	}
	if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return remote{}, invalidf("file URL %s has no absolute path", Redact(raw))
	}
	p := filepath.Clean(u.Path)
	return remote{kind: kindLocal, localPath: p, fetchURL: p, redacted: "file://" + p}, nil
}

// parseURL parses an http(s), ssh (ssh://, git+ssh://, ssh+git://) or
// git:// URL: its user info is kept apart, the fetch URL has none for
// http(s).
func parseURL(raw string) (remote, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return remote{}, invalidf("malformed repository URL %s", Redact(raw))
	}
	r := remote{redacted: Redact(raw), host: u.Hostname()}
	if u.User != nil {
		r.urlUser = u.User.Username()
		r.urlPassword, _ = u.User.Password()
	}
	if p := u.Port(); p != "" {
		r.port, _ = strconv.Atoi(p)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		r.kind = kindHTTP
		clean := *u
		clean.User = nil
		r.fetchURL = clean.String()
	case "git":
		r.kind = kindGit
		r.fetchURL = raw
	default: // ssh, git+ssh, ssh+git
		r.kind = kindSSH
		clean := *u
		clean.Scheme = "ssh"
		if r.urlUser != "" {
			clean.User = neturl.User(r.urlUser)
		}
		r.fetchURL = clean.String()
	}
	return r, nil
}

// Redact returns url with any user info removed, fit for logs and errors:
// "https://user:secret@host/x" becomes "https://host/x" and the scp-like
// "git@host:x" becomes "host:x". Absolute paths are returned unchanged.
func Redact(url string) string {
	if url == "" || filepath.IsAbs(url) {
		return url
	}
	if i := strings.Index(url, "://"); i >= 0 {
		if u, err := neturl.Parse(url); err == nil {
			u.User = nil
			return u.String()
		}
		// Unparseable: drop everything up to the last '@' of the
		// authority, or of the whole string when the authority is unclear.
		rest := url[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return url[:i+3] + rest[at+1:]
		}
		return url
	}
	if m := scpLike.FindStringSubmatch(url); m != nil {
		return m[2] + ":" + m[3]
	}
	return url
}

// secrets lists the clear values an operation uses, for scrubbing.
func (r remote) secrets(a Auth) scrubber {
	s := scrubber{a.Password, a.Token, a.SSHPassphrase, r.urlPassword}
	if r.urlPassword != "" {
		if esc, err := neturl.PathUnescape(r.urlPassword); err == nil {
			s = append(s, esc, neturl.QueryEscape(r.urlPassword), neturl.PathEscape(r.urlPassword))
		}
	}
	return s
}

// transportAuth builds the go-git auth method for r from a.
func (r remote) transportAuth(a Auth) (transport.AuthMethod, error) {
	switch r.kind {
	case kindHTTP:
		switch {
		case a.Token != "":
			user := a.Username
			if user == "" {
				user = tokenUser
			}
			return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
		case a.Username != "" || a.Password != "":
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		case r.urlUser != "" || r.urlPassword != "":
			return &githttp.BasicAuth{Username: r.urlUser, Password: r.urlPassword}, nil
		}
		return nil, nil
	case kindSSH:
		return r.sshAuth(a)
	}
	return nil, nil
}

// hostKeyError is a failed host key check, with a message fit for users.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string        { return e.msg }
func (e *hostKeyError) Is(target error) bool { return target == ErrHostKey }

func (r remote) sshAuth(a Auth) (transport.AuthMethod, error) {
	if len(a.SSHKey) == 0 {
		return nil, invalidf("ssh needs a private key (Auth.SSHKey)")
	}
	user := a.SSHUser
	if user == "" {
		user = r.urlUser
	}
	if user == "" {
		user = "git"
	}
	if a.SSHPassphrase == "" {
		// go-git would try an empty passphrase and report a bcrypt error.
		var missing *ssh.PassphraseMissingError
		if _, err := ssh.ParsePrivateKey(a.SSHKey); errors.As(err, &missing) {
			return nil, fmt.Errorf("%w: ssh private key is encrypted and no passphrase was given", ErrAuth)
		}
	}
	keys, err := gitssh.NewPublicKeys(user, a.SSHKey, a.SSHPassphrase)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) || (a.SSHPassphrase == "" && errors.Is(err, x509.IncorrectPasswordError)) {
			return nil, fmt.Errorf("%w: ssh private key is encrypted and no passphrase was given", ErrAuth)
		}
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("%w: wrong passphrase for the ssh private key", ErrAuth)
		}
		// The parse error never contains the key itself.
		return nil, fmt.Errorf("%w: parse ssh private key: %v", ErrInvalid, err)
	}
	port := r.port
	if port == 0 {
		port = 22
	}
	hostPort := net.JoinHostPort(r.host, strconv.Itoa(port))
	if a.InsecureIgnoreHostKey {
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return keys, nil
	}
	files, err := knownHostsFiles(a.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, fmt.Errorf("%w: read known_hosts %s: %v", ErrHostKey, strings.Join(files, ", "), err)
	}
	inner := db.HostKeyCallback()
	keys.HostKeyCallback = func(hostname string, addr net.Addr, key ssh.PublicKey) error {
		err := inner(hostname, addr, key)
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) > 0 {
			return &hostKeyError{msg: fmt.Sprintf("host key mismatch for %s: the server's %s key is not the one in %s (possible man-in-the-middle, or the server key changed)",
				hostname, key.Type(), strings.Join(files, ", "))}
		}
		if errors.As(err, &ke) {
			return &hostKeyError{msg: fmt.Sprintf("host %s is not in known_hosts %s", hostname, strings.Join(files, ", "))}
		}
		return &hostKeyError{msg: fmt.Sprintf("host key check for %s: %v", hostname, err)}
	}
	return &knownHostsAuth{PublicKeys: keys, algorithms: db.HostKeyAlgorithms(hostPort)}, nil
}

// knownHostsAuth asks the server for the host key types known_hosts holds
// for it, so that a server with several keys presents the one we know.
type knownHostsAuth struct {
	*gitssh.PublicKeys
	algorithms []string
}

// ClientConfig implements gitssh.AuthMethod.
func (k *knownHostsAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := k.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	if len(k.algorithms) > 0 {
		cfg.HostKeyAlgorithms = k.algorithms
	}
	return cfg, nil
}

// knownHostsFiles returns the known_hosts files to check against: explicit,
// else $SSH_KNOWN_HOSTS (a list), else ~/.ssh/known_hosts. A missing file
// is an error that says so.
func knownHostsFiles(explicit string) ([]string, error) {
	var files []string
	switch {
	case explicit != "":
		files = []string{explicit}
	case os.Getenv("SSH_KNOWN_HOSTS") != "":
		files = filepath.SplitList(os.Getenv("SSH_KNOWN_HOSTS"))
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%w: no known_hosts file: set Auth.KnownHostsFile or $SSH_KNOWN_HOSTS (%v)", ErrHostKey, err)
		}
		files = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: known_hosts file %s does not exist: create it (ssh-keyscan) or set InsecureIgnoreHostKey", ErrHostKey, f)
			}
			return nil, fmt.Errorf("%w: known_hosts file %s: %v", ErrHostKey, f, err)
		}
	}
	return files, nil
}
