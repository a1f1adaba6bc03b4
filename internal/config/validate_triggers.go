package config

import (
	"net/url"
	"regexp"
	"strings"
)

// This file validates the trigger settings: settings.config_repo,
// settings.webhooks, schedule overlap/catch_up defaults and matcher
// operators.

// DefaultWebhookMaxBody is settings.webhooks.max_body when not declared:
// 25MiB, GitHub's own cap on a payload.
const DefaultWebhookMaxBody ByteSize = 25 << 20

func defaultOverlap(o *Overlap, c *CatchUp) {
	if *o == "" {
		*o = OverlapSkip
	}
	if *c == "" {
		*c = CatchUpNone
	}
}

func (l *loader) validateTriggerSettings(s *Settings) {
	if s.Webhooks.MaxBody == 0 {
		s.Webhooks.MaxBody = DefaultWebhookMaxBody
	} else if s.Webhooks.MaxBody < 1024 {
		l.errs.add(l.at(&s.Webhooks, "max_body", s.Pos), "settings.webhooks.max_body", "must be at least 1KiB, got %s", s.Webhooks.MaxBody)
	}
	cr := s.ConfigRepo
	if cr == nil {
		return
	}
	p := "settings.config_repo"
	if !l.required(cr, cr.Pos, p, "forge", cr.Forge != nil, "") {
		return
	}
	f := cr.Forge
	fp := p + ".forge"
	if !l.required(f, f.Pos, fp, "type", f.Type != "", " (github, gitlab or gitea)") {
		return
	}
	if f.APIURL == "" {
		if f.Type == ForgeGitHub {
			f.APIURL = "https://api.github.com"
		} else {
			l.errs.add(f.Pos, fp+".api_url", "missing required key \"api_url\" for a %s forge", f.Type)
		}
	} else if u, err := url.Parse(f.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		l.errs.add(l.at(f, "api_url", f.Pos), fp+".api_url", "invalid api_url %q: must be an http(s) URL", f.APIURL)
	}
	switch {
	case f.Repo == "":
		l.errs.add(f.Pos, fp+".repo", "missing required key \"repo\" (owner/name of the config repository)")
	case strings.Count(f.Repo, "/") < 1 || strings.HasPrefix(f.Repo, "/") || strings.HasSuffix(f.Repo, "/"):
		l.errs.add(l.at(f, "repo", f.Pos), fp+".repo", "invalid repo %q: write owner/name", f.Repo)
	}
}

// validateMatcherOp checks that a matcher uses one operator and that a
// regex compiles.
func (l *loader) validateMatcherOp(m *Matcher, fallback Pos, path string) {
	n := 0
	for _, v := range []string{m.Equals, m.NotEquals, m.Contains, m.Regex} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		l.errs.add(l.at(m, "", fallback), path, "a matcher takes one of equals, not_equals, contains or regex")
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			l.errs.add(l.at(m, "regex", fallback), path+".regex", "invalid regex %q: %v", m.Regex, err)
		}
	}
}
