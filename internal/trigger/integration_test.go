package trigger

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
)

// alertmanagerBody is a notification as Alertmanager's webhook receiver
// sends it (version 4 of its payload).
const alertmanagerBody = `{
  "version": "4",
  "groupKey": "{}:{alertname=\"DiskFull\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "semaphored",
  "groupLabels": {"alertname": "DiskFull"},
  "commonLabels": {"alertname": "DiskFull", "instance": "web-1:9100", "severity": "critical"},
  "commonAnnotations": {"summary": "Disk almost full"},
  "externalURL": "http://alertmanager:9093",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "DiskFull", "instance": "web-1:9100", "severity": "critical"},
      "annotations": {"summary": "Disk almost full"},
      "startsAt": "2026-12-01T04:00:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
      "fingerprint": "c1e5a2b7d3f40981"
    }
  ]
}`

func alertIntegration() *config.Integration {
	return &config.Integration{
		Name:     "alerts",
		Template: "cleanup",
		Auth:     config.IntegrationAuth{Type: config.IntegrationAuthToken, Header: "Authorization"},
		Matchers: []config.Matcher{
			{Body: "status", Equals: "firing"},
			{Body: "alerts.0.labels.severity", Regex: "^(critical|page)$"},
			{Body: "receiver", NotEquals: "blackhole"},
			{Header: "User-Agent", Contains: "Alertmanager"},
		},
		Extractors: []config.Extractor{
			{Var: "alert_name", Body: "alerts[0].labels.alertname"},
			{Var: "host", Body: "alerts.0.labels.instance"},
			{Var: "count", Body: "truncatedAlerts"},
			{Var: "absent", Body: "alerts.3.labels"},
			{Var: "agent", Header: "User-Agent"},
		},
	}
}

func TestIntegrationAlertmanager(t *testing.T) {
	in := alertIntegration()
	h := http.Header{}
	h.Set("Authorization", "Bearer t0ken")
	h.Set("User-Agent", "Alertmanager/0.27.0")
	if err := CheckIntegrationAuth(in, []byte("t0ken"), h, []byte(alertmanagerBody)); err != nil {
		t.Fatalf("auth: %v", err)
	}
	call, err := MatchIntegration(in, h, []byte(alertmanagerBody))
	if err != nil || !call.Matched {
		t.Fatalf("got %+v, %v", call, err)
	}
	want := map[string]any{"alert_name": "DiskFull", "host": "web-1:9100", "count": float64(0), "agent": "Alertmanager/0.27.0"}
	if len(call.Vars) != len(want) {
		t.Errorf("vars: got %v, want %v", call.Vars, want)
	}
	for k, v := range want {
		if call.Vars[k] != v {
			t.Errorf("var %s: got %v, want %v", k, call.Vars[k], v)
		}
	}
	resolved := strings.Replace(alertmanagerBody, `"status": "firing",
  "receiver"`, `"status": "resolved",
  "receiver"`, 1)
	call, err = MatchIntegration(in, h, []byte(resolved))
	if err != nil || call.Matched || call.Reason != `matcher 0 did not match: body status is "resolved", want "firing"` {
		t.Errorf("resolved: got %+v, %v", call, err)
	}
}

func TestIntegrationMatchers(t *testing.T) {
	body := []byte(`{"a":{"b":[{"c":"x-1"},{"c":2}]},"s":"hello world"}`)
	tests := []struct {
		m    config.Matcher
		want bool
	}{
		{config.Matcher{Body: "a.b.0.c", Equals: "x-1"}, true},
		{config.Matcher{Body: "a.b.1.c", Equals: "2"}, true},
		{config.Matcher{Body: "a.b.2.c", Equals: ""}, false},
		{config.Matcher{Body: "a.b.0.c", NotEquals: "x-2"}, true},
		{config.Matcher{Body: "a.missing", NotEquals: "x"}, true},
		{config.Matcher{Body: "s", Contains: "lo wo"}, true},
		{config.Matcher{Body: "s", Contains: "bye"}, false},
		{config.Matcher{Body: "a.b.0.c", Regex: `^x-\d$`}, true},
		{config.Matcher{Body: "a.b.0.c", Regex: `^y`}, false},
		{config.Matcher{Header: "X-Kind", Equals: "deploy"}, true},
		{config.Matcher{Header: "X-Missing", Equals: ""}, false},
	}
	h := http.Header{}
	h.Set("X-Kind", "deploy")
	for _, tt := range tests {
		in := &config.Integration{Matchers: []config.Matcher{tt.m}}
		call, err := MatchIntegration(in, h, body)
		if err != nil || call.Matched != tt.want {
			t.Errorf("%+v: got %v (%s), %v; want %v", tt.m, call.Matched, call.Reason, err, tt.want)
		}
	}
	in := &config.Integration{Matchers: []config.Matcher{{Body: "a", Equals: "x"}}}
	if _, err := MatchIntegration(in, h, []byte("not json")); err == nil {
		t.Error("a body matcher on a non-JSON body: no error")
	}
	in = &config.Integration{Matchers: []config.Matcher{{Header: "X-Kind", Equals: "deploy"}}}
	if call, err := MatchIntegration(in, h, []byte("not json")); err != nil || !call.Matched {
		t.Errorf("a header matcher on a non-JSON body: got %+v, %v", call, err)
	}
}

func TestIntegrationAuth(t *testing.T) {
	body := []byte(`{"x":1}`)
	secret := []byte("s3cret")
	hmacIn := &config.Integration{Auth: config.IntegrationAuth{Type: config.IntegrationAuthHMAC, Header: "X-Signature"}}
	tokIn := &config.Integration{Auth: config.IntegrationAuth{Type: config.IntegrationAuthToken, Header: "X-Token"}}
	none := &config.Integration{Auth: config.IntegrationAuth{Type: config.IntegrationAuthNone}}
	tests := []struct {
		name string
		in   *config.Integration
		k, v string
		ok   bool
	}{
		{"hmac", hmacIn, "X-Signature", forge.Sign(secret, body), true},
		{"hmac prefixed", hmacIn, "X-Signature", "sha256=" + forge.Sign(secret, body), true},
		{"hmac upper hex", hmacIn, "X-Signature", strings.ToUpper(forge.Sign(secret, body)), true},
		{"hmac wrong", hmacIn, "X-Signature", forge.Sign([]byte("x"), body), false},
		{"hmac missing", hmacIn, "X-Other", forge.Sign(secret, body), false},
		{"token", tokIn, "X-Token", "s3cret", true},
		{"token bearer", tokIn, "X-Token", "Bearer s3cret", true},
		{"token wrong", tokIn, "X-Token", "s3cre", false},
		{"token empty", tokIn, "X-Token", "", false},
		{"none", none, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.k != "" {
				h.Set(tt.k, tt.v)
			}
			err := CheckIntegrationAuth(tt.in, secret, h, body)
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
