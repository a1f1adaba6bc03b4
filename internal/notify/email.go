package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// SMTP says how to send e-mail.
type SMTP struct {
	// Server is "host:port".
	Server   string
	Username string
	Password string
	From     string
	To       []string
	// InsecurePlaintext allows a server that does not offer STARTTLS;
	// otherwise the message is refused before anything is sent.
	InsecurePlaintext bool
	// TLS overrides the TLS config of STARTTLS (tests: a private CA).
	// ServerName defaults to the host of Server.
	TLS *tls.Config
	// Now stamps the Date header (default time.Now).
	Now func() time.Time
}

// Email sends m by SMTP: STARTTLS (required unless InsecurePlaintext),
// AUTH PLAIN when a username is set, then one message to every recipient.
// The whole exchange is bounded by ctx (its deadline, or DefaultTimeout).
// Transient SMTP replies (4xx) and connection problems are retryable;
// permanent ones (5xx) are not.
func Email(ctx context.Context, s SMTP, m Message) error {
	host, _, err := net.SplitHostPort(s.Server)
	if err != nil {
		return &Error{Channel: "email", Message: fmt.Sprintf("server %q: %v", s.Server, err)}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Server)
	if err != nil {
		return netError("email", err)
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpError(err)
	}
	defer c.Close()
	if err := c.Hello("semaphored"); err != nil {
		return smtpError(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if s.TLS != nil {
			cfg = s.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
		}
		if err := c.StartTLS(cfg); err != nil {
			return smtpError(err)
		}
	} else if !s.InsecurePlaintext {
		return &Error{Channel: "email", Message: "the server does not offer STARTTLS (set insecure_plaintext only for a local relay)"}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return smtpError(err)
		}
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return &Error{Channel: "email", Message: "from: " + err.Error()}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpError(err)
	}
	var to []string
	for _, a := range s.To {
		ad, err := mail.ParseAddress(a)
		if err != nil {
			return &Error{Channel: "email", Message: "to: " + err.Error()}
		}
		if err := c.Rcpt(ad.Address); err != nil {
			return smtpError(err)
		}
		to = append(to, ad.String())
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from.String())
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Title()))
	hdr("Date", now().Format(time.RFC1123Z))
	hdr("Message-ID", fmt.Sprintf("<task-%d-%s.%d@semaphored>", m.TaskID, m.Event, now().UnixNano()))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	// The DATA writer does the dot-stuffing.
	for _, l := range strings.Split(m.Text(), "\n") {
		b.WriteString(l + "\r\n")
	}
	if _, err := w.Write([]byte(b.String())); err != nil {
		return smtpError(err)
	}
	if err := w.Close(); err != nil {
		return smtpError(err)
	}
	// The message was accepted at the end of DATA; a failed QUIT does
	// not unsend it.
	_ = c.Quit()
	return nil
}

// smtpError classifies an SMTP error: a 4xx reply is transient, a 5xx
// permanent, anything else (connection, TLS) retryable.
func smtpError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &Error{Channel: "email", Code: te.Code, Message: te.Msg, Retryable: te.Code < 500, Err: err}
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return &Error{Channel: "email", Message: "TLS: " + ce.Error(), Err: err}
	}
	return netError("email", err)
}
