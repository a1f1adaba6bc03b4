// Package gitcache keeps one cached bare clone per repository URL and
// checks commits out of it into private work directories. Fetches bring
// only what moved; every git operation has a timeout; credentials never
// appear in errors or logs. It uses go-git only: no git binary runs.
//
// # Cache layout
//
// A Cache owns one directory. Each remote repository gets a bare clone in
// DIR/HASH, where HASH is the first 128 bits of the SHA-256 of the URL with
// its user info removed (see Redact and Cache.RepoDir), so the same
// repository reached with different credentials shares one clone and no
// credential appears in a path. Clones keep the remote's branches as
// refs/heads/*; no URL and no credential is written into their config. A
// new clone is initialised in DIR/HASH.tmp and renamed into place; the
// first fetch then fills it. Tags are not fetched. Each fetch adds a pack
// file; when a clone holds more than 32 the next fetch repacks it into one.
// An open clone keeps its pack files open and up to 16 MiB of decoded
// objects in memory until Close.
//
// # Fetching
//
// Checkout with a SHA the clone already holds makes no network call at all:
// this is the hot path of every task (well under a millisecond of CPU for
// 50 files; the rest is the file system). A missing SHA fetches the named
// branch, then all branches, then fails with ErrNotFound. Checkout with a
// branch and no SHA, and Resolve, fetch that branch and use its head; an
// empty branch means the remote's default branch (its HEAD). Fetches
// negotiate with what the clone has, so only what moved is transferred.
//
// Local sources need no cache: an absolute path or file:// URL naming a
// git repository (bare or not) is read directly with go-git; one naming a
// plain directory is copied into the destination and the Commit is zero.
// Relative paths are an error: the caller resolves them.
//
// Cache.ChangedPaths lists the files changed between two revisions (the
// paths a push or pull request touched, for path filters), fetching what
// the clone lacks the same way.
//
// # Checkout
//
// The commit's tree is written straight from the object store into dst
// (created 0700; it may exist if empty) through an os.Root per directory:
// regular files 0644, executables 0755, symlinks as symlinks (never
// followed, never written through, and nothing can leave dst), submodules
// skipped with a log line. Unsafe entry names ("..", ".git", names with a
// slash) fail the checkout. On failure dst is removed (or emptied if it
// existed).
//
// # Locking and time limits
//
// Operations on one URL are serialised by a per-URL lock whose wait
// honours the context; different URLs proceed in parallel. Every operation
// runs under the caller's context bounded by Options.Timeout (default 2m).
// go-git does not honour the context everywhere (the ssh handshake), so
// network calls run in a goroutine: on timeout the operation returns at
// once and the clone stays locked until the abandoned call ends.
//
// # Corruption
//
// A clone that cannot be opened, or whose objects cannot be read, or whose
// branches point at missing commits, is deleted and cloned again once
// within the same operation, so a crash mid-fetch never fails forever.
//
// # Authentication
//
// HTTPS uses basic auth: Auth.Username/Password, else Auth.Token as the
// password with the user "x-access-token" (GitHub documents it; GitLab
// accepts any user with personal, project and group access tokens; Gitea
// ignores the user; set Username to "oauth2" for GitLab OAuth tokens), else
// the user info of the URL, which is removed from the URL before go-git
// sees it. SSH uses the PEM key in Auth.SSHKey (with its passphrase), user
// Auth.SSHUser, else the URL's user, else "git"; the ssh agent is never
// used. Host keys are checked against Auth.KnownHostsFile, else
// $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts; a missing file, an unknown host
// and a mismatching key are errors (ErrHostKey) unless
// Auth.InsecureIgnoreHostKey.
//
// # Credentials and errors
//
// Auth values are used for one operation and never stored or logged.
// Every error is an *Error carrying the operation, the redacted URL, a
// message from which the operation's password, token, passphrase and URL
// user info have been scrubbed, and whether a retry could help
// (IsTransient: network failures, timeouts and 5xx answers are; ErrAuth,
// ErrHostKey, ErrNotFound and ErrInvalid are not). The underlying go-git
// error is deliberately not reachable through Unwrap; errors.Is works for
// the sentinels and for context.DeadlineExceeded and context.Canceled.
package gitcache
