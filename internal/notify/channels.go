package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Slack posts m to a Slack incoming webhook URL: {"text": ...} with a
// section block. Slack answers 200 "ok", or 4xx with a plain-text reason
// ("invalid_payload", "no_service", "channel_is_archived").
func Slack(ctx context.Context, hc *http.Client, url string, m Message) error {
	text := "*" + m.Title() + "*"
	if d := m.Details(); len(d) > 0 {
		text += "\n" + strings.Join(d, "\n")
	}
	if m.URL != "" {
		text += "\n<" + m.URL + "|Open the task>"
	}
	body := map[string]any{
		"text": m.Title(),
		"blocks": []any{map[string]any{
			"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": text},
		}},
	}
	return postJSON(ctx, hc, "slack", url, nil, body, nil)
}

// Teams posts m to a Microsoft Teams workflow (Power Automate) webhook as
// an Adaptive Card message. The workflow answers 202 Accepted.
func Teams(ctx context.Context, hc *http.Client, url string, m Message) error {
	items := []any{map[string]any{"type": "TextBlock", "text": m.Title(), "weight": "Bolder", "size": "Medium", "wrap": true}}
	for _, d := range m.Details() {
		items = append(items, map[string]any{"type": "TextBlock", "text": d, "wrap": true})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    items,
	}
	if m.URL != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open the task", "url": m.URL}}
	}
	body := map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
	return postJSON(ctx, hc, "teams", url, nil, body, errorField)
}

// errorField reads {"error": {"code": ..., "message": ...}} (Teams and
// Power Automate) or {"message": ...}.
func errorField(b []byte) (string, time.Duration) {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return "", 0
	}
	if v.Error.Message != "" {
		return strings.TrimSpace(v.Error.Code + " " + v.Error.Message), 0
	}
	return v.Message, 0
}

// DefaultTelegramAPI is the Bot API endpoint.
const DefaultTelegramAPI = "https://api.telegram.org"

// Telegram sends m with the Bot API's sendMessage (HTML parse mode) to
// chatID. apiURL "" means DefaultTelegramAPI. The token is part of the
// request path and never appears in an error.
func Telegram(ctx context.Context, hc *http.Client, apiURL, token, chatID string, m Message) error {
	if apiURL == "" {
		apiURL = DefaultTelegramAPI
	}
	var b strings.Builder
	b.WriteString("<b>" + html.EscapeString(m.Title()) + "</b>")
	for _, d := range m.Details() {
		b.WriteString("\n" + html.EscapeString(d))
	}
	if m.URL != "" {
		b.WriteString("\n<a href=\"" + html.EscapeString(m.URL) + "\">Open the task</a>")
	}
	body := map[string]any{
		"chat_id":                  chatID,
		"text":                     b.String(),
		"parse_mode":               "HTML",
		"disable_web_page_preview": true,
	}
	url := strings.TrimRight(apiURL, "/") + "/bot" + token + "/sendMessage"
	return postJSON(ctx, hc, "telegram", url, nil, body, telegramError)
}

// telegramError reads {"ok":false,"error_code":429,"description":"Too
// Many Requests: retry after 5","parameters":{"retry_after":5}}.
func telegramError(b []byte) (string, time.Duration) {
	var v struct {
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(b, &v) != nil {
		return "", 0
	}
	return v.Description, time.Duration(v.Parameters.RetryAfter) * time.Second
}

// WebhookBody is the JSON document the generic webhook posts.
type WebhookBody struct {
	Message
	Title           string  `json:"title"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
}

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the webhook's secret, like GitHub's X-Hub-Signature-256.
const SignatureHeader = "X-Semaphored-Signature-256"

// Sign returns the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// Webhook posts m as JSON (WebhookBody) to url, signed with secret when it
// is not empty. id identifies the delivery (X-Semaphored-Delivery: the same
// id on a retry, so the receiver can drop duplicates).
func Webhook(ctx context.Context, hc *http.Client, url string, secret []byte, id string, m Message) error {
	body, err := json.Marshal(WebhookBody{Message: m, Title: m.Title(), DurationSeconds: m.Duration.Seconds()})
	if err != nil {
		return &Error{Channel: "webhook", Message: "encode: " + err.Error()}
	}
	h := http.Header{}
	h.Set("X-Semaphored-Event", "task."+m.Event)
	h.Set("X-Semaphored-Delivery", id)
	if len(secret) > 0 {
		h.Set(SignatureHeader, Sign(secret, body))
	}
	return post(ctx, hc, "webhook", url, h, body, errorField)
}

// itoa is strconv.FormatUint for ids.
func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
