package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
)

// ErrUnauthorized is returned by CheckIntegrationAuth for a request that
// does not prove itself. It never says more, so a caller learns nothing.
var ErrUnauthorized = errors.New("unauthorized")

// CheckIntegrationAuth authenticates an integration call. secret is the
// clear value of in.Auth.Secret (nil for auth none). hmac: the header holds
// the hex HMAC-SHA256 of the body, optionally prefixed "sha256="; token:
// the header holds the secret, optionally as "Bearer SECRET" (what
// Alertmanager's http_config authorization sends). Comparisons take
// constant time.
func CheckIntegrationAuth(in *config.Integration, secret []byte, h http.Header, body []byte) error {
	switch in.Auth.Type {
	case config.IntegrationAuthNone:
		return nil
	case config.IntegrationAuthHMAC:
		v := strings.TrimPrefix(strings.TrimSpace(h.Get(in.Auth.Header)), "sha256=")
		if v == "" || len(secret) == 0 {
			return ErrUnauthorized
		}
		if !forge.EqualSecret([]byte(strings.ToLower(v)), []byte(forge.Sign(secret, body))) {
			return ErrUnauthorized
		}
		return nil
	case config.IntegrationAuthToken:
		v := strings.TrimSpace(h.Get(in.Auth.Header))
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			v = strings.TrimSpace(v[7:])
		}
		if v == "" || !forge.EqualSecret([]byte(v), secret) {
			return ErrUnauthorized
		}
		return nil
	}
	return ErrUnauthorized
}

// BodyPath returns the value at a dotted path of a decoded JSON document:
// object keys and array indexes ("alerts.0.labels.alertname"; "alerts[0]"
// is read the same).
func BodyPath(doc any, path string) (any, bool) {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	cur := doc
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// text is how a value compares: strings as they are, everything else as
// its JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// IntegrationCall is what an integration call decided.
type IntegrationCall struct {
	// Matched is false when a matcher refused the request; Reason says which.
	Matched bool
	Reason  string
	Vars    map[string]any
}

// MatchIntegration applies the matchers and extractors of in to a call
// whose auth was checked. A body that is not JSON fails only when a
// matcher or extractor reads the body.
func MatchIntegration(in *config.Integration, h http.Header, body []byte) (IntegrationCall, error) {
	var doc any
	var docErr error
	decoded := false
	get := func(header, path string) (any, bool, error) {
		if header != "" {
			vs := h.Values(header)
			if len(vs) == 0 {
				return nil, false, nil
			}
			return vs[0], true, nil
		}
		if !decoded {
			decoded = true
			if err := json.Unmarshal(body, &doc); err != nil {
				docErr = fmt.Errorf("body is not JSON: %w", err)
			}
		}
		if docErr != nil {
			return nil, false, docErr
		}
		v, ok := BodyPath(doc, path)
		return v, ok, nil
	}
	for i, m := range in.Matchers {
		v, ok, err := get(m.Header, m.Body)
		if err != nil {
			return IntegrationCall{}, err
		}
		where := "body " + m.Body
		if m.Header != "" {
			where = "header " + m.Header
		}
		s := text(v)
		var match bool
		var want string
		switch {
		case m.NotEquals != "":
			match, want = !ok || s != m.NotEquals, "not "+strconv.Quote(m.NotEquals)
		case m.Contains != "":
			match, want = ok && strings.Contains(s, m.Contains), "containing "+strconv.Quote(m.Contains)
		case m.Regex != "":
			re, err := regexp.Compile(m.Regex)
			if err != nil {
				return IntegrationCall{}, fmt.Errorf("matcher %d: %w", i, err)
			}
			match, want = ok && re.MatchString(s), "matching "+strconv.Quote(m.Regex)
		default:
			match, want = ok && s == m.Equals, strconv.Quote(m.Equals)
		}
		if !match {
			got := "missing"
			if ok {
				got = strconv.Quote(truncate(s, 64))
			}
			return IntegrationCall{Reason: fmt.Sprintf("matcher %d did not match: %s is %s, want %s", i, where, got, want)}, nil
		}
	}
	call := IntegrationCall{Matched: true}
	for _, e := range in.Extractors {
		v, ok, err := get(e.Header, e.Body)
		if err != nil {
			return IntegrationCall{}, err
		}
		if !ok {
			continue
		}
		if call.Vars == nil {
			call.Vars = map[string]any{}
		}
		call.Vars[e.Var] = v
	}
	return call, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
