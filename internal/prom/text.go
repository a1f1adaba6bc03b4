package prom

import (
	"math"
	"strconv"
)

// TextContentType is the Content-Type of the text exposition format.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// appendHeader appends f's HELP and TYPE lines.
func appendHeader(b []byte, f *Family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.Help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = append(b, f.Type...)
	return append(b, '\n')
}

// appendSeries appends the sample lines of s, a series of f.
func appendSeries(b []byte, f *Family, s *Series) []byte {
	switch f.Type {
	case TypeHistogram:
		for j, ub := range s.Bounds {
			b = appendSample(b, f.Name, "_bucket", f.LabelNames, s.LabelValues, "le", ub, float64(s.Cumulated[j]))
		}
		b = appendSample(b, f.Name, "_bucket", f.LabelNames, s.LabelValues, "le", math.Inf(1), float64(s.Count))
		b = appendSample(b, f.Name, "_sum", f.LabelNames, s.LabelValues, "", 0, s.Sum)
		b = appendSample(b, f.Name, "_count", f.LabelNames, s.LabelValues, "", 0, float64(s.Count))
	case TypeSummary:
		for _, q := range s.Quantiles {
			b = appendSample(b, f.Name, "", f.LabelNames, s.LabelValues, "quantile", q.Q, q.Value)
		}
		b = appendSample(b, f.Name, "_sum", f.LabelNames, s.LabelValues, "", 0, s.Sum)
		b = appendSample(b, f.Name, "_count", f.LabelNames, s.LabelValues, "", 0, float64(s.Count))
	default:
		b = appendSample(b, f.Name, "", f.LabelNames, s.LabelValues, "", 0, s.Value)
	}
	return b
}

// appendSample appends one sample line: name+suffix, the labels (and the
// extra label, le or quantile, when extraName is set) and the value.
func appendSample(b []byte, name, suffix string, names, values []string, extraName string, extra, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(names) > 0 || extraName != "" {
		b = append(b, '{')
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, n, values[i])
		}
		if extraName != "" {
			if len(names) > 0 {
				b = append(b, ',')
			}
			b = append(b, extraName...)
			b = append(b, '=', '"')
			b = appendFloat(b, extra)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes a backslash and a line feed, and in a label value
// also a double quote, as the text format requires.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !needsEscape(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' {
			return true
		}
	}
	return false
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
