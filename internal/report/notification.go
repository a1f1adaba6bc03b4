package report

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/notify"
	"github.com/semaphored/semaphored/internal/state"
)

// NotificationSender delivers notification entries through the channels
// of internal/notify.
type NotificationSender struct {
	Tasks   Tasks
	Secrets SecretResolver
	Links   *Links
	// HTTPClient is used by the HTTP channels (nil: notify's default).
	HTTPClient *http.Client
	// SMTP adjusts the e-mail settings before sending (tests: a private CA).
	SMTP func(*notify.SMTP)
}

// recoveryLookback bounds how many earlier tasks of a template are read to
// find the previous finished one.
const recoveryLookback = 50

// previousEnd returns the status of the last task of t's template that
// ended before t (by id), or "" when there is none.
func previousEnd(ctx context.Context, ts Tasks, t state.Task) (state.TaskStatus, error) {
	list, err := ts.Tasks(ctx, state.TaskFilter{Project: t.Project, Template: t.Template}, t.ID, recoveryLookback)
	if err != nil {
		return "", err
	}
	for _, p := range list {
		if p.ID < t.ID && p.Status.Terminal() {
			return p.Status, nil
		}
	}
	return "", nil
}

// Message builds the message of e, and whether it is to be sent at all (a
// recovery-only entry after a success is not).
func (s *NotificationSender) Message(ctx context.Context, e OutboxEntry) (NotificationPayload, notify.Message, bool, error) {
	var p NotificationPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return p, notify.Message{}, false, final("decode the notification payload: %v", err)
	}
	t, err := s.Tasks.Task(ctx, e.TaskID)
	if errors.Is(err, state.ErrNotFound) {
		return p, notify.Message{}, false, nil // pruned meanwhile: nothing to say
	}
	if err != nil {
		return p, notify.Message{}, false, err
	}
	event := string(config.OnEnd)
	if t.Status != state.StatusSuccess {
		event = string(config.OnFailure)
	}
	if t.Status == state.StatusSuccess && (p.RecoveryOnly || p.Notification.Sends(config.OnRecovery)) {
		prev, err := previousEnd(ctx, s.Tasks, t)
		if err != nil {
			return p, notify.Message{}, false, err
		}
		recovered := prev != "" && prev != state.StatusSuccess
		if recovered {
			event = string(config.OnRecovery)
		} else if p.RecoveryOnly {
			return p, notify.Message{}, false, nil
		}
	}
	var tail []string
	from := uint64(1)
	if t.LogLines > tailLines {
		from = t.LogLines - tailLines + 1
	}
	lines, err := s.Tasks.ReadLog(ctx, t.ID, from, tailLines)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return p, notify.Message{}, false, err
	}
	for _, l := range lines {
		tail = append(tail, l.Text)
	}
	m := notify.Message{
		Event: event, Project: t.Project, Template: t.Template, TaskID: t.ID, Status: string(t.Status),
		Summary: Describe(t, tail), URL: s.Links.TaskURL(t.ID), Commit: t.Commit, Branch: t.Branch,
		Trigger: triggerType(t), Duration: duration(t),
	}
	return p, m, true, nil
}

func (s *NotificationSender) secret(ref *config.Secret, what string) (string, error) {
	if ref == nil || ref.IsZero() {
		return "", nil
	}
	if s.Secrets == nil {
		return "", final("%s %s: no secret resolver", what, ref)
	}
	v, err := s.Secrets.Resolve(*ref)
	if err != nil {
		return "", final("%s: %v", what, err)
	}
	return v, nil
}

// Send delivers the notification of e.
func (s *NotificationSender) Send(ctx context.Context, e OutboxEntry) error {
	p, m, ok, err := s.Message(ctx, e)
	if err != nil || !ok {
		return err
	}
	n := p.Notification
	switch n.Type {
	case config.NotifySlack, config.NotifyTeams:
		url, err := s.secret(n.URL, "url")
		if err != nil {
			return err
		}
		if n.Type == config.NotifySlack {
			return notify.Slack(ctx, s.HTTPClient, url, m)
		}
		return notify.Teams(ctx, s.HTTPClient, url, m)
	case config.NotifyTelegram:
		token, err := s.secret(n.BotToken, "bot_token")
		if err != nil {
			return err
		}
		return notify.Telegram(ctx, s.HTTPClient, n.APIURL, token, n.ChatID, m)
	case config.NotifyWebhook:
		url, err := s.secret(n.URL, "url")
		if err != nil {
			return err
		}
		key, err := s.secret(n.Secret, "secret")
		if err != nil {
			return err
		}
		id := e.Target
		if id == "" {
			id = strconv.FormatUint(e.Seq, 10)
		}
		return notify.Webhook(ctx, s.HTTPClient, url, []byte(key), id, m)
	case config.NotifyEmail:
		if n.Email == nil {
			return final("email notification without email settings")
		}
		pw, err := s.secret(n.Email.Password, "password")
		if err != nil {
			return err
		}
		cfg := notify.SMTP{
			Server: n.Email.Server, Username: n.Email.Username, Password: pw,
			From: n.Email.From, To: n.Email.To, InsecurePlaintext: n.Email.InsecurePlaintext,
		}
		if s.SMTP != nil {
			s.SMTP(&cfg)
		}
		return notify.Email(ctx, cfg, m)
	}
	return final("unknown notification type %q", n.Type)
}
