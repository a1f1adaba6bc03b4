package config

import (
	"net/mail"
	"path"
	"slices"
	"strings"
)

// NotificationType is where a notification goes.
type NotificationType string

const (
	NotifySlack    NotificationType = "slack"
	NotifyTeams    NotificationType = "teams"
	NotifyTelegram NotificationType = "telegram"
	NotifyEmail    NotificationType = "email"
	NotifyWebhook  NotificationType = "webhook"
)

// NotifyOn is an event a notification is sent on.
type NotifyOn string

const (
	// OnFailure: a task ended in failure, error, stopped or interrupted.
	OnFailure NotifyOn = "failure"
	// OnRecovery: a task succeeded after the previous finished task of
	// its template did not.
	OnRecovery NotifyOn = "recovery"
	// OnEnd: every task end.
	OnEnd NotifyOn = "end"
)

// Notification is one destination for messages about a project's task
// ends, declared under `notifications:` of a project. Every URL and token
// is a secret reference, never written in clear.
type Notification struct {
	Name string `yaml:"-" json:"name"`
	// Type is slack, teams, telegram, email or webhook.
	Type NotificationType `yaml:"type" json:"type"`
	// URL is the incoming webhook of slack, the workflow webhook of teams,
	// or the endpoint of a generic webhook.
	URL *Secret `yaml:"url" json:"url,omitempty"`
	// BotToken is the telegram bot's token.
	BotToken *Secret `yaml:"bot_token" json:"bot_token,omitempty"`
	// ChatID is the telegram chat the bot writes to.
	ChatID string `yaml:"chat_id" json:"chat_id,omitempty"`
	// APIURL overrides https://api.telegram.org (a local Bot API server).
	APIURL string `yaml:"api_url" json:"api_url,omitempty"`
	// Secret signs a generic webhook's body (HMAC-SHA256 in the
	// X-Semaphored-Signature header).
	Secret *Secret `yaml:"secret" json:"secret,omitempty"`
	// Email is the SMTP delivery of type email.
	Email *EmailNotification `yaml:"email" json:"email,omitempty"`
	// On lists the events to send on (default [failure, recovery]).
	On []NotifyOn `yaml:"on" json:"on,omitempty"`
	// Templates limits it to these templates (names or globs); empty
	// means every template of the project.
	Templates []string `yaml:"templates" json:"templates,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// EmailNotification is SMTP delivery. STARTTLS is required unless
// insecure_plaintext is set (only for a relay on loopback).
type EmailNotification struct {
	// Server is "host:port" (port 587 with STARTTLS, typically).
	Server string `yaml:"server" json:"server"`
	// Username logs in (SMTP AUTH PLAIN, only over TLS); optional.
	Username string `yaml:"username" json:"username,omitempty"`
	// Password goes with Username, as a secret reference.
	Password *Secret `yaml:"password" json:"password,omitempty"`
	// From is the sender address.
	From string `yaml:"from" json:"from"`
	// To lists the recipient addresses.
	To []string `yaml:"to" json:"to"`
	// InsecurePlaintext allows a server without STARTTLS (a local relay).
	InsecurePlaintext bool `yaml:"insecure_plaintext" json:"insecure_plaintext,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Links configures the signed task links of commit statuses and
// notifications (settings.links).
type Links struct {
	// Expiry is how long a link works (default 90 days: "2160h").
	Expiry Duration `yaml:"expiry" json:"expiry"`

	Pos Pos `yaml:"-" json:"-"`
}

// Wants reports whether n is declared for template.
func (n *Notification) Wants(template string) bool {
	if len(n.Templates) == 0 {
		return true
	}
	for _, g := range n.Templates {
		if ok, _ := path.Match(g, template); ok || g == template {
			return true
		}
	}
	return false
}

// Sends reports whether n is sent on ev.
func (n *Notification) Sends(ev NotifyOn) bool { return slices.Contains(n.On, ev) }

// validateNotification checks one notification and sets its defaults.
func (l *loader) validateNotification(p *Project, base string, n *Notification) {
	if len(n.On) == 0 && !l.isBad(n, "on") {
		n.On = []NotifyOn{OnFailure, OnRecovery}
	}
	for _, g := range n.Templates {
		if _, err := path.Match(g, ""); err != nil {
			l.errs.add(l.at(n, "templates", n.Pos), base+".templates", "invalid glob %q: %v", g, err)
			continue
		}
		if !strings.ContainsAny(g, "*?[") {
			if _, ok := p.Templates[g]; !ok {
				l.errs.add(l.at(n, "templates", n.Pos), base+".templates", "no template %q in project %q", g, p.Name)
			}
		}
	}
	switch n.Type {
	case NotifySlack, NotifyTeams, NotifyWebhook:
		l.required(n, n.Pos, base, "url", n.URL != nil, " (a secret reference to the webhook URL, e.g. {env: SLACK_WEBHOOK_URL})")
		l.notFor(n, n.Pos, base, "bot_token", n.BotToken != nil, "telegram notifications")
		l.notFor(n, n.Pos, base, "chat_id", n.ChatID != "", "telegram notifications")
		l.notFor(n, n.Pos, base, "email", n.Email != nil, "email notifications")
		if n.Type != NotifyWebhook {
			l.notFor(n, n.Pos, base, "secret", n.Secret != nil, "webhook notifications")
		}
	case NotifyTelegram:
		l.required(n, n.Pos, base, "bot_token", n.BotToken != nil, " (e.g. {env: TELEGRAM_BOT_TOKEN})")
		l.required(n, n.Pos, base, "chat_id", n.ChatID != "", " (the chat id, e.g. \"-1001234567890\")")
		l.notFor(n, n.Pos, base, "url", n.URL != nil, "slack, teams and webhook notifications")
		l.notFor(n, n.Pos, base, "email", n.Email != nil, "email notifications")
		l.notFor(n, n.Pos, base, "secret", n.Secret != nil, "webhook notifications")
	case NotifyEmail:
		if !l.required(n, n.Pos, base, "email", n.Email != nil, " (server, from and to)") {
			break
		}
		e, ep := n.Email, base+".email"
		l.required(e, e.Pos, ep, "server", e.Server != "", " (e.g. \"smtp.example.com:587\")")
		if e.Server != "" && !strings.Contains(e.Server, ":") {
			l.errs.add(l.at(e, "server", e.Pos), ep+".server", "%q has no port: write host:port (587 for STARTTLS)", e.Server)
		}
		if l.required(e, e.Pos, ep, "from", e.From != "", "") {
			if _, err := mail.ParseAddress(e.From); err != nil {
				l.errs.add(l.at(e, "from", e.Pos), ep+".from", "%q is not an e-mail address", e.From)
			}
		}
		if l.required(e, e.Pos, ep, "to", len(e.To) > 0, " (a list of addresses)") {
			for _, a := range e.To {
				if _, err := mail.ParseAddress(a); err != nil {
					l.errs.add(l.at(e, "to", e.Pos), ep+".to", "%q is not an e-mail address", a)
				}
			}
		}
		if e.Password != nil && e.Username == "" {
			l.errs.add(l.at(e, "password", e.Pos), ep+".password", "a password needs a username")
		}
		l.notFor(n, n.Pos, base, "url", n.URL != nil, "slack, teams and webhook notifications")
		l.notFor(n, n.Pos, base, "bot_token", n.BotToken != nil, "telegram notifications")
		l.notFor(n, n.Pos, base, "secret", n.Secret != nil, "webhook notifications")
	}
	if n.APIURL != "" && n.Type != NotifyTelegram {
		l.notFor(n, n.Pos, base, "api_url", true, "telegram notifications")
	}
	if n.APIURL != "" && !strings.HasPrefix(n.APIURL, "https://") && !strings.HasPrefix(n.APIURL, "http://") {
		l.errs.add(l.at(n, "api_url", n.Pos), base+".api_url", "%q is not an http(s) URL", n.APIURL)
	}
}
