package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxErrorBody bounds how much of an error response is read for its message.
const maxErrorBody = 64 << 10

// postJSON sends body as JSON with the auth header and classifies the
// answer: nil for 2xx, a *StatusError otherwise. The forge's message is
// taken from the JSON body's "message" or "error" field.
func postJSON(ctx context.Context, hc *http.Client, forge, url, authHeader, authValue string, body any, now func() time.Time) error {
	b, err := json.Marshal(body)
	if err != nil {
		return &StatusError{Forge: forge, Message: "encode: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return &StatusError{Forge: forge, Message: "bad request URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "semaphored")
	if authValue != "" {
		req.Header.Set(authHeader, authValue)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(forge, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	return httpStatusError(forge, resp, forgeMessage(data), now())
}

// forgeMessage extracts a human message from an error body: GitLab
// {"message": "..."} (sometimes an object of field errors) or {"error":
// "..."}, Gitea {"message": "...", "url": "..."}. Plain text is used as is,
// cut short.
func forgeMessage(data []byte) string {
	var v struct {
		Message any    `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(data, &v) == nil {
		switch m := v.Message.(type) {
		case string:
			if m != "" {
				return truncate(m, 300)
			}
		case nil:
		default:
			if b, err := json.Marshal(m); err == nil {
				return truncate(string(b), 300)
			}
		}
		if v.Error != "" {
			return truncate(v.Error, 300)
		}
		return ""
	}
	return truncate(strings.TrimSpace(string(data)), 300)
}
