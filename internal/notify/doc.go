// Package notify sends messages about finished tasks: Slack incoming
// webhooks, Microsoft Teams workflow webhooks, the Telegram Bot API, e-mail
// over SMTP with STARTTLS, and a generic JSON webhook signed with
// HMAC-SHA256. Each sender makes one attempt and returns an *Error that
// says whether a retry may help (5xx, 429 with its Retry-After, timeouts,
// connection errors) or not (other 4xx); retrying is the outbox worker's
// job (internal/report), so an outage delays a message and never reports
// it as sent. Errors never contain a webhook URL or a token: both are
// secrets (a Slack or Teams URL is a credential, a Telegram token sits in
// the request path).
package notify
