package gitcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
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

// DefaultTimeout bounds each operation when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// Cache is a directory of bare clones, one per URL. Safe for concurrent
// use: operations on one URL are serialised, different URLs run in parallel.
type Cache struct {
	dir     string
	timeout time.Duration
	log     *slog.Logger

	// maxPacks is the pack count above which a fetch repacks the clone.
	maxPacks int

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
}

// defaultMaxPacks bounds the pack files a clone accumulates: every fetch
// adds one, and lookups and open descriptors grow with their number.
const defaultMaxPacks = 32

// objectCacheSize bounds the decoded objects each open clone keeps.
const objectCacheSize = 16 * cache.MiByte

// entry is one cached repository. sem (capacity 1) is its lock; repo is
// the open clone and st its storage (which keeps pack files open), both
// used only while sem is held.
type entry struct {
	sem  chan struct{}
	repo *git.Repository
	st   *filesystem.Storage
}

// drop closes the open clone, if any.
func (e *entry) drop() {
	if e.st != nil {
		_ = e.st.Close()
	}
	e.repo, e.st = nil, nil
}

// New returns a cache rooted at dir (created when missing).
func New(dir string, opts Options) *Cache {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{dir: dir, timeout: opts.Timeout, log: opts.Logger, maxPacks: defaultMaxPacks, entries: map[string]*entry{}}
}

// RepoDir returns the directory of the bare clone for url: a hash of the
// URL without user info, so the same repository reached with different
// credentials shares one clone.
func (c *Cache) RepoDir(url string) string {
	return filepath.Join(c.dir, cacheKey(Redact(url)))
}

func cacheKey(redacted string) string {
	sum := sha256.Sum256([]byte(redacted))
	return hex.EncodeToString(sum[:16])
}

// Resolve fetches url and returns the commit branch points at. An empty
// branch means the remote's default branch (its HEAD). For a local
// directory that is not a git repository it returns a zero Commit and no
// error: such a source has no version, so callers must not skip work on
// an empty SHA.
func (c *Cache) Resolve(ctx context.Context, url string, auth Auth, branch string) (Commit, error) {
	r, err := parseRemote(url)
	if err != nil {
		return Commit{}, newError("resolve", Redact(url), nil, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if r.kind == kindLocal {
		lr, plain, err := openLocal(r)
		if err != nil || plain {
			return Commit{}, wrapOp("resolve", r, nil, err)
		}
		commit, err := localBranchCommit(lr, branch)
		if err != nil {
			return Commit{}, wrapOp("resolve", r, nil, err)
		}
		return describe(commit), nil
	}
	var out Commit
	err = c.withRepo(ctx, "resolve", r, auth, func(ctx context.Context, op *operation) error {
		commit, err := op.fetchBranch(ctx, branch)
		if err != nil {
			return err
		}
		out = describe(commit)
		return nil
	})
	return out, err
}

// Checkout writes the tree of commit sha (fetching when the cache does not
// have it; sha empty means the head of branch) into dst, which must not
// exist or be empty, and returns the commit.
//
// A sha the cache already holds is checked out with no network call. dst
// is created 0700; regular files keep their mode (0644 or 0755), symlinks
// are written as symlinks and never followed, submodules are skipped. On
// failure dst is left as it was found (removed when Checkout created it).
// A url naming a local directory that is not a git repository is copied
// as is and the returned Commit is zero.
func (c *Cache) Checkout(ctx context.Context, url string, auth Auth, sha, branch, dst string) (Commit, error) {
	r, err := parseRemote(url)
	if err != nil {
		return Commit{}, newError("checkout", Redact(url), nil, err)
	}
	if sha != "" && !isFullSHA(sha) {
		return Commit{}, newError("checkout", r.redacted, nil, invalidf("commit %q is not a full 40-character SHA", sha))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	created, err := prepareDst(dst)
	if err != nil {
		return Commit{}, newError("checkout", r.redacted, nil, err)
	}
	out, err := c.checkout(ctx, r, auth, sha, branch, dst)
	if err != nil {
		cleanDst(dst, created)
		return Commit{}, err
	}
	return out, nil
}

func (c *Cache) checkout(ctx context.Context, r remote, auth Auth, sha, branch, dst string) (Commit, error) {
	if r.kind == kindLocal {
		lr, plain, err := openLocal(r)
		if err != nil {
			return Commit{}, wrapOp("checkout", r, nil, err)
		}
		if plain {
			if err := copyDir(ctx, r.localPath, dst); err != nil {
				return Commit{}, wrapOp("copy", r, nil, err)
			}
			return Commit{}, nil
		}
		var commit *object.Commit
		if sha != "" {
			commit, err = lr.CommitObject(plumbing.NewHash(sha))
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				err = fmt.Errorf("commit %s %w in the repository", sha, ErrNotFound)
			}
		} else {
			commit, err = localBranchCommit(lr, branch)
		}
		if err != nil {
			return Commit{}, wrapOp("checkout", r, nil, err)
		}
		if err := writeCommit(ctx, lr, commit, dst, c.log); err != nil {
			return Commit{}, wrapOp("checkout", r, nil, err)
		}
		return describe(commit), nil
	}
	var out Commit
	err := c.withRepo(ctx, "checkout", r, auth, func(ctx context.Context, op *operation) error {
		var commit *object.Commit
		var err error
		if sha != "" {
			commit, err = op.commitBySHA(ctx, sha, branch)
		} else {
			commit, err = op.fetchBranch(ctx, branch)
		}
		if err != nil {
			return err
		}
		if err := writeCommit(ctx, op.repo, commit, dst, c.log); err != nil {
			return err
		}
		out = describe(commit)
		return nil
	})
	return out, err
}

// operation is one locked use of a cached clone.
type operation struct {
	c      *Cache
	r      remote
	e      *entry
	path   string
	repo   *git.Repository
	auth   transport.AuthMethod
	scrub  scrubber
	log    *slog.Logger
	fresh  bool          // the clone was created by this operation
	detach chan struct{} // closed when a network call abandoned on timeout ends
}

// withRepo locks the clone of r, opens (or creates) it and runs fn; when fn
// fails because the clone is corrupted, the clone is deleted and fn runs
// once more against a fresh one.
func (c *Cache) withRepo(ctx context.Context, name string, r remote, auth Auth, fn func(context.Context, *operation) error) error {
	scrub := r.secrets(auth)
	ta, err := r.transportAuth(auth)
	if err != nil {
		return newError("auth", r.redacted, scrub, err)
	}
	key := cacheKey(r.redacted)
	e, err := c.lock(ctx, key)
	if err != nil {
		return newError("lock", r.redacted, scrub, fmt.Errorf("wait for another operation on this repository: %w", err))
	}
	path := filepath.Join(c.dir, key)
	op := &operation{c: c, r: r, e: e, path: path, auth: ta, scrub: scrub, log: c.log.With("repo", r.redacted)}
	defer func() {
		if op.detach != nil {
			// A network call still runs in the clone: release the lock
			// when it ends, not before.
			go func() {
				<-op.detach
				c.unlock(e, true)
			}()
			return
		}
		c.unlock(e, false)
	}()

	for attempt := 0; ; attempt++ {
		if e.repo == nil {
			repo, st, err := openClone(path)
			if err != nil {
				op.log.Warn("git cache unreadable, cloning again", "dir", path, "error", scrub.scrub(err.Error()))
				if err := os.RemoveAll(path); err != nil {
					return newError("open", r.redacted, scrub, err)
				}
			}
			e.repo, e.st = repo, st
		}
		op.repo, op.fresh = e.repo, false
		if op.repo == nil {
			if err := op.clone(path); err != nil {
				return err
			}
			repo, st, err := openClone(path)
			if err != nil || repo == nil {
				return newError("clone", r.redacted, scrub, fmt.Errorf("open new clone: %w", err))
			}
			e.repo, e.st = repo, st
			op.repo, op.fresh = repo, true
		}
		err := fn(ctx, op)
		var corrupt *corruptError
		if err == nil || !errors.As(err, &corrupt) || attempt > 0 || op.detach != nil {
			if err != nil {
				return newError(name, r.redacted, scrub, err)
			}
			return nil
		}
		op.log.Warn("git cache corrupted, cloning again", "dir", path, "error", scrub.scrub(err.Error()))
		e.drop()
		if err := os.RemoveAll(path); err != nil {
			return newError("open", r.redacted, scrub, err)
		}
	}
}

// lock takes the per-URL lock for key, honouring ctx.
func (c *Cache) lock(ctx context.Context, key string) (*entry, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &entry{sem: make(chan struct{}, 1)}
		c.entries[key] = e
	}
	c.mu.Unlock()
	select {
	case e.sem <- struct{}{}:
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// unlock releases e; after an abandoned network call the open clone is
// dropped, since its state is unknown.
func (c *Cache) unlock(e *entry, dropRepo bool) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if dropRepo || closed {
		e.drop()
	}
	<-e.sem
}

// openClone opens the bare clone at path, or returns nils when there is
// none. An existing path that is not a readable repository is an error.
// The storage keeps pack files open between operations (the hot path reads
// many objects); the caller closes it.
func openClone(path string) (*git.Repository, *filesystem.Storage, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open clone: %w", err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("open clone: %s is not a directory", path)
	}
	st := filesystem.NewStorageWithOptions(osfs.New(path), cache.NewObjectLRU(objectCacheSize), filesystem.Options{KeepDescriptors: true})
	repo, err := git.Open(st, nil)
	if err != nil {
		_ = st.Close()
		return nil, nil, fmt.Errorf("open clone: %w", err)
	}
	return repo, st, nil
}

// clone creates an empty bare clone at path: initialised in a temporary
// directory, then renamed into place, so a crash never leaves a half-made
// clone under the final name. The operation's fetch then brings what it
// needs; a clone whose objects were lost halfway is detected on use.
func (op *operation) clone(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return newError("clone", op.r.redacted, op.scrub, err)
	}
	tmp := path + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return newError("clone", op.r.redacted, op.scrub, err)
	}
	if _, err := git.PlainInit(tmp, true); err != nil {
		return newError("clone", op.r.redacted, op.scrub, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.RemoveAll(tmp)
		return newError("clone", op.r.redacted, op.scrub, err)
	}
	op.log.Info("git cache created", "dir", path)
	return nil
}

// net runs one network call under ctx. go-git does not honour ctx
// everywhere (the ssh handshake ignores it), so the call runs in its own
// goroutine: on ctx's end net returns at once and the operation keeps the
// lock until the call finishes (see withRepo).
func (op *operation) net(ctx context.Context, name string, fn func(context.Context) error) error {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = fn(ctx)
	}()
	select {
	case <-done:
		if err != nil && ctx.Err() != nil {
			return newError(name, op.r.redacted, op.scrub, fmt.Errorf("%w (%v)", ctx.Err(), err))
		}
		if err != nil {
			return newError(name, op.r.redacted, op.scrub, op.explain(err))
		}
		return nil
	case <-ctx.Done():
		op.detach = done
		return newError(name, op.r.redacted, op.scrub, fmt.Errorf("%w: gave up after %v", ctx.Err(), op.c.timeout))
	}
}

// explain rewrites go-git's terse authentication errors into ones that say
// what happened; other errors pass unchanged.
func (op *operation) explain(err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired) && op.auth == nil:
		return fmt.Errorf("%w: the server requires credentials and none were given", ErrAuth)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w: the server refused the credentials (user %q)", ErrAuth, authUser(op.auth))
	case strings.Contains(err.Error(), "ssh: unable to authenticate"):
		// x/crypto/ssh reports a refused key only as text.
		return fmt.Errorf("%w: the ssh server refused the key for user %q", ErrAuth, authUser(op.auth))
	case errors.As(err, new(git.NoMatchingRefSpecError)):
		return fmt.Errorf("%w on the remote: %v", ErrNotFound, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("repository %w (or no access to it)", ErrNotFound)
	}
	return err
}

// authUser names the user of an auth method, never its secret.
func authUser(a transport.AuthMethod) string {
	switch a := a.(type) {
	case *githttp.BasicAuth:
		return a.Username
	case *knownHostsAuth:
		return a.User
	case *gitssh.PublicKeys:
		return a.User
	}
	return ""
}

// fetch brings refspecs from the remote into the clone.
func (op *operation) fetch(ctx context.Context, refspecs ...config.RefSpec) error {
	start := time.Now()
	rem := git.NewRemote(op.repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{op.r.fetchURL}})
	err := op.net(ctx, "fetch", func(ctx context.Context) error {
		err := rem.FetchContext(ctx, &git.FetchOptions{
			RemoteName: "origin",
			RefSpecs:   refspecs,
			Auth:       op.auth,
			Tags:       git.NoTags,
			Force:      true,
		})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	op.log.Debug("git fetch", "refspecs", len(refspecs), "duration", time.Since(start))
	op.maybeRepack()
	return nil
}

// maybeRepack merges the clone's pack files into one when fetches have
// left more than maxPacks, then reopens the clone. A failure is logged and
// otherwise ignored: the clone stays usable.
func (op *operation) maybeRepack() {
	pos, ok := op.repo.Storer.(storer.PackedObjectStorer)
	if !ok {
		return
	}
	packs, err := pos.ObjectPacks()
	if err != nil || len(packs) <= op.c.maxPacks {
		return
	}
	start := time.Now()
	err = op.repo.RepackObjects(&git.RepackConfig{})
	op.e.drop()
	repo, st, openErr := openClone(op.path)
	if openErr == nil && repo != nil {
		op.e.repo, op.e.st = repo, st
		op.repo = repo
	}
	if err != nil || openErr != nil {
		op.log.Warn("git cache repack failed", "packs", len(packs), "error", op.scrub.scrub(errors.Join(err, openErr).Error()))
		return
	}
	op.log.Info("git cache repacked", "packs", len(packs), "duration", time.Since(start))
}

// defaultBranch asks the remote which branch its HEAD names.
func (op *operation) defaultBranch(ctx context.Context) (string, error) {
	rem := git.NewRemote(op.repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{op.r.fetchURL}})
	var refs []*plumbing.Reference
	err := op.net(ctx, "list", func(ctx context.Context) error {
		var err error
		refs, err = rem.ListContext(ctx, &git.ListOptions{Auth: op.auth})
		return err
	})
	if err != nil {
		return "", err
	}
	var headHash plumbing.Hash
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD {
			if ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
				return ref.Target().Short(), nil
			}
			headHash = ref.Hash()
		}
	}
	for _, ref := range refs {
		if ref.Name().IsBranch() && !headHash.IsZero() && ref.Hash() == headHash {
			return ref.Name().Short(), nil
		}
	}
	return "", fmt.Errorf("remote HEAD names no branch: name one: %w", ErrNotFound)
}

// fetchBranch fetches branch (the remote default when empty) and returns
// the commit it points at.
func (op *operation) fetchBranch(ctx context.Context, branch string) (*object.Commit, error) {
	if branch == "" {
		var err error
		if branch, err = op.defaultBranch(ctx); err != nil {
			return nil, err
		}
	}
	branch = strings.TrimPrefix(branch, "refs/heads/")
	if err := validBranch(branch); err != nil {
		return nil, err
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if err := op.fetch(ctx, config.RefSpec("+"+ref.String()+":"+ref.String())); err != nil {
		return nil, err
	}
	got, err := op.repo.Reference(ref, false)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, ErrNotFound)
	}
	commit, err := op.repo.CommitObject(got.Hash())
	if err != nil {
		return nil, &corruptError{fmt.Errorf("branch %s head %s: %w", branch, got.Hash(), err)}
	}
	return commit, nil
}

// commitBySHA returns commit sha from the clone, fetching branch (or all
// branches) first only when the clone lacks it.
func (op *operation) commitBySHA(ctx context.Context, sha, branch string) (*object.Commit, error) {
	hash := plumbing.NewHash(sha)
	commit, err := op.repo.CommitObject(hash)
	if err == nil {
		return commit, nil
	}
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, &corruptError{fmt.Errorf("read commit %s: %w", sha, err)}
	}
	all := config.RefSpec("+refs/heads/*:refs/heads/*")
	if branch != "" {
		branch = strings.TrimPrefix(branch, "refs/heads/")
		if err := validBranch(branch); err != nil {
			return nil, err
		}
		ref := plumbing.NewBranchReferenceName(branch).String()
		if err := op.fetch(ctx, config.RefSpec("+"+ref+":"+ref)); err != nil {
			return nil, err
		}
		if commit, err := op.repo.CommitObject(hash); err == nil {
			return commit, nil
		}
	}
	if err := op.fetch(ctx, all); err != nil {
		return nil, err
	}
	commit, err = op.repo.CommitObject(hash)
	if err == nil {
		return commit, nil
	}
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, &corruptError{fmt.Errorf("read commit %s: %w", sha, err)}
	}
	// The head of a pull request from a fork is on no branch of the base
	// repository, only under the forge's pull request refs (GitHub and
	// Gitea: refs/pull/N/head; GitLab: refs/merge-requests/N/head).
	if err := op.fetch(ctx, prRefSpecs...); err != nil {
		return nil, err
	}
	if commit, err = op.repo.CommitObject(hash); err == nil {
		return commit, nil
	}
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, &corruptError{fmt.Errorf("read commit %s: %w", sha, err)}
	}
	// Refs that point at missing commits mean objects were lost: the fetch
	// negotiated with a lie, so clone again rather than report not-found.
	if err := op.checkRefs(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("commit %s %w on any branch of the remote", sha, ErrNotFound)
}

// prRefSpecs fetch the pull request heads forges publish, into refs of
// their own (never branches).
var prRefSpecs = []config.RefSpec{
	"+refs/pull/*/head:refs/pull/*/head",
	"+refs/merge-requests/*/head:refs/merge-requests/*/head",
}

// checkRefs verifies every branch of the clone points at a readable commit.
func (op *operation) checkRefs() error {
	if op.fresh {
		return nil
	}
	refs, err := op.repo.References()
	if err != nil {
		return &corruptError{err}
	}
	defer refs.Close()
	return refs.ForEach(func(ref *plumbing.Reference) error {
		if !ref.Name().IsBranch() {
			return nil
		}
		if _, err := op.repo.CommitObject(ref.Hash()); err != nil {
			return &corruptError{fmt.Errorf("branch %s points at unreadable commit: %w", ref.Name().Short(), err)}
		}
		return nil
	})
}

// localBranchCommit returns the commit branch (HEAD when empty) of a local
// repository points at.
func localBranchCommit(repo *git.Repository, branch string) (*object.Commit, error) {
	var ref *plumbing.Reference
	var err error
	if branch == "" {
		ref, err = repo.Head()
	} else {
		branch = strings.TrimPrefix(branch, "refs/heads/")
		if err := validBranch(branch); err != nil {
			return nil, err
		}
		ref, err = repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	}
	if err != nil {
		if branch == "" {
			branch = "HEAD"
		}
		return nil, fmt.Errorf("branch %s: %w", branch, ErrNotFound)
	}
	return repo.CommitObject(ref.Hash())
}

// openLocal opens the local repository r names; plain reports a directory
// that is not a git repository.
func openLocal(r remote) (repo *git.Repository, plain bool, err error) {
	fi, err := os.Stat(r.localPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("%s: %w", r.localPath, ErrNotFound)
		}
		return nil, false, err
	}
	if !fi.IsDir() {
		return nil, false, invalidf("%s is not a directory", r.localPath)
	}
	repo, err = git.PlainOpenWithOptions(r.localPath, &git.PlainOpenOptions{DetectDotGit: false})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return repo, false, nil
}

func wrapOp(op string, r remote, s scrubber, err error) error {
	if err == nil {
		return nil
	}
	return newError(op, r.redacted, s, err)
}

// describe turns a commit into a Commit.
func describe(c *object.Commit) Commit {
	msg, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	return Commit{
		SHA:     c.Hash.String(),
		Message: strings.TrimSpace(msg),
		Author:  fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		Time:    c.Author.When,
	}
}

func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, ch := range s {
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F') {
			return false
		}
	}
	return true
}

// validBranch refuses branch names that would make a refspec mean
// something else. Callers strip a leading refs/heads/ first.
func validBranch(b string) error {
	if strings.HasPrefix(b, "refs/") || strings.ContainsAny(b, "*:^~?[\\ \t\n") || strings.Contains(b, "..") || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "+") {
		return invalidf("branch name %q", b)
	}
	return nil
}

// Close releases the files the cache keeps open. It does not wait: a clone
// still in use (for example by a network call abandoned on timeout) is
// released when that use ends. The cache must not be used afterwards.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	entries := make([]*entry, 0, len(c.entries))
	for _, e := range c.entries {
		entries = append(entries, e)
	}
	c.mu.Unlock()
	for _, e := range entries {
		select {
		case e.sem <- struct{}{}:
			e.drop()
			<-e.sem
		default:
		}
	}
	return nil
}
