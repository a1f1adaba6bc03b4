package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/semaphored/semaphored/internal/config"
)

// principal is an authenticated caller: a token's name, scope and the
// projects it may touch (nil: every project).
type principal struct {
	name     string
	scope    config.Scope
	projects map[string]bool
}

// allows reports whether p's scope includes need.
func (p *principal) allows(need config.Scope) bool {
	return p.scope.Includes(need)
}

// project reports whether p may see and act on project.
func (p *principal) project(name string) bool {
	return p.projects == nil || p.projects[name]
}

// checkProject answers 404 when p may not touch project, as if it were
// not declared: a token limited to some projects learns nothing of the
// others, not even that they exist.
func (p *principal) checkProject(name string) error {
	if !p.project(name) {
		return errorf(http.StatusNotFound, "no such project %q", name)
	}
	return nil
}

// tokenEntry is a known token: the SHA-256 digest of its value, never the
// value itself, and who it is.
type tokenEntry struct {
	digest [sha256.Size]byte
	who    *principal
}

// tokenSet is the tokens of one configuration.
type tokenSet struct {
	cfg     *config.Config
	entries []tokenEntry
}

// authenticator checks bearer tokens. The tokens of settings.api_tokens are
// resolved once per active configuration (keyed by its pointer) and kept
// as digests; the admin token is always known.
type authenticator struct {
	secrets SecretResolver
	admin   *tokenEntry
	log     *slog.Logger

	mu  sync.Mutex // serialises rebuilding the set
	set atomic.Pointer[tokenSet]
}

func newAuthenticator(secrets SecretResolver, adminToken string, log *slog.Logger) *authenticator {
	a := &authenticator{secrets: secrets, log: log}
	if adminToken != "" {
		a.admin = &tokenEntry{
			digest: sha256.Sum256([]byte(adminToken)),
			who:    &principal{name: "admin", scope: config.ScopeAdmin},
		}
	}
	return a
}

// tokens returns the token set of cfg, building it when cfg changed.
func (a *authenticator) tokens(cfg *config.Config) *tokenSet {
	if s := a.set.Load(); s != nil && s.cfg == cfg {
		return s
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.set.Load(); s != nil && s.cfg == cfg {
		return s
	}
	s := &tokenSet{cfg: cfg}
	if a.admin != nil {
		s.entries = append(s.entries, *a.admin)
	}
	if cfg != nil {
		names := make([]string, 0, len(cfg.Settings.APITokens))
		for name := range cfg.Settings.APITokens {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t := cfg.Settings.APITokens[name]
			if t == nil {
				continue
			}
			if a.secrets == nil {
				a.log.Warn("api token ignored: no secret resolver", "token", name)
				continue
			}
			value, err := a.secrets.Resolve(t.Token)
			if err != nil {
				// The error names the reference, never a value.
				a.log.Warn("api token ignored: cannot resolve its secret", "token", name, "err", err)
				continue
			}
			if value == "" {
				a.log.Warn("api token ignored: empty value", "token", name)
				continue
			}
			p := &principal{name: name, scope: t.Scope}
			if len(t.Projects) > 0 {
				p.projects = make(map[string]bool, len(t.Projects))
				for _, pr := range t.Projects {
					p.projects[pr] = true
				}
			}
			s.entries = append(s.entries, tokenEntry{digest: sha256.Sum256([]byte(value)), who: p})
		}
	}
	a.set.Store(s)
	return s
}

// authenticate finds the caller of r, or answers 401.
func (a *authenticator) authenticate(r *http.Request, cfg *config.Config) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, errorf(http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errorf(http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
	}
	digest := sha256.Sum256([]byte(token))
	var found *principal
	// Compare with every entry, in constant time each, whatever matches.
	for _, e := range a.tokens(cfg).entries {
		if subtle.ConstantTimeCompare(digest[:], e.digest[:]) == 1 && found == nil {
			found = e.who
		}
	}
	if found == nil {
		return nil, errorf(http.StatusUnauthorized, "unknown token")
	}
	return found, nil
}
