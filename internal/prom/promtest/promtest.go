// Package promtest checks a prom.Registry's exposition in tests, with
// Prometheus's own parser and promlint (from client_golang, linked into
// test binaries only).
package promtest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/semaphored/semaphored/internal/prom"
)

// Text returns reg's exposition, after checking that Prometheus's text
// parser reads it and promlint finds nothing to say.
func Text(t testing.TB, reg *prom.Registry) string {
	t.Helper()
	var buf bytes.Buffer
	if err := reg.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	Lint(t, buf.String())
	return buf.String()
}

// Lint fails t when text does not parse as the text exposition format or
// promlint reports a problem.
func Lint(t testing.TB, text string) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(text)); err != nil {
		t.Fatalf("Prometheus's text parser refuses the exposition: %v\n%s", err, text)
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
