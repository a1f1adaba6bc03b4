// Package prom is the daemon's Prometheus instrumentation: counters,
// gauges and histograms, with or without labels, a Registry that refuses a
// family registered twice, the Go runtime and process collectors, and the
// text exposition format (version 0.0.4) that every Prometheus, Grafana
// Agent, VictoriaMetrics and promtool reads.
//
// It stands in for prometheus/client_golang, whose API it follows
// (NewCounterVec(CounterOpts{...}, labels).WithLabelValues(...).Inc()), so
// that code reads the same. client_golang's data model is protobuf: linking
// it brought google.golang.org/protobuf's runtime and descriptors, about
// 2 MB of a 16 MB binary and, since a Go binary's pages are resident, the
// same share of idle RSS, for an encoding the daemon never serves. The
// output is what client_golang writes for the same metrics: families
// sorted by name, HELP and TYPE lines, labels sorted by name, series sorted
// by label values. Tests check it with client_golang's own text parser and
// promlint.
//
// Every type is safe for concurrent use. Updates are lock-free atomics; a
// vector's children are found under a read lock.
package prom

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// Type is a family's TYPE line.
type Type string

// The types the daemon exports.
const (
	TypeCounter   Type = "counter"
	TypeGauge     Type = "gauge"
	TypeHistogram Type = "histogram"
	TypeSummary   Type = "summary"
)

// Family is one metric family as collected at scrape time.
type Family struct {
	Name string
	Help string
	Type Type
	// LabelNames are the family's label names, sorted.
	LabelNames []string
	Series     []Series
}

// Series is one labelled series of a family.
type Series struct {
	// LabelValues are in the order of the family's LabelNames.
	LabelValues []string
	// Value of a counter or gauge.
	Value float64
	// Histogram: the upper bounds (without +Inf), the cumulative count at
	// each, and the total count and sum. Summary: Quantiles, Count, Sum.
	Bounds    []float64
	Cumulated []uint64
	Quantiles []Quantile
	Count     uint64
	Sum       float64
}

// Quantile is one quantile of a summary.
type Quantile struct{ Q, Value float64 }

// Collector is what a Registry holds: something that names the families it
// writes, and writes them at each scrape.
type Collector interface {
	// Describe returns the names of the families Collect writes.
	Describe() []string
	// Collect appends the collector's families to fs and returns it.
	Collect(fs []Family) []Family
}

// Registerer is what instrumented components take: a Registry, injected.
type Registerer interface {
	Register(Collector) error
}

// AlreadyRegisteredError is Register's answer for a family name that is
// already registered. Components built twice on one registry (two API
// handlers in a test) tell it from real errors with errors.As and keep
// the first collector.
type AlreadyRegisteredError struct{ Name string }

func (e AlreadyRegisteredError) Error() string {
	return fmt.Sprintf("prom: %s is already registered", e.Name)
}

// Registry holds collectors and writes their families.
type Registry struct {
	mu         sync.RWMutex
	names      map[string]bool
	collectors []Collector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// Register adds c, unless one of its family names is already registered
// (AlreadyRegisteredError) or is not a valid metric name.
func (r *Registry) Register(c Collector) error {
	names := c.Describe()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range names {
		if !validMetricName(n) {
			return fmt.Errorf("prom: %q is not a valid metric name", n)
		}
		if r.names[n] || slices.Contains(names[:i], n) {
			return AlreadyRegisteredError{Name: n}
		}
	}
	for _, n := range names {
		r.names[n] = true
	}
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister registers each of cs and panics on an error: for tests and
// for main, where a clash is a programming error.
func (r *Registry) MustRegister(cs ...Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Gather collects every registered family, sorted by name, each family's
// series sorted by label values.
func (r *Registry) Gather() []Family {
	r.mu.RLock()
	cs := slices.Clone(r.collectors)
	r.mu.RUnlock()
	var fs []Family
	for _, c := range cs {
		fs = c.Collect(fs)
	}
	slices.SortFunc(fs, func(a, b Family) int { return cmp.Compare(a.Name, b.Name) })
	byValues := func(a, b Series) int { return slices.Compare(a.LabelValues, b.LabelValues) }
	for i := range fs {
		if !slices.IsSortedFunc(fs[i].Series, byValues) {
			slices.SortFunc(fs[i].Series, byValues)
		}
	}
	return fs
}

// errDuplicateFamily says two collectors wrote the same family at one
// scrape, which Register's check on Describe should have prevented.
var errDuplicateFamily = errors.New("prom: a family was collected twice")

// WriteText writes every registered family to w in the text exposition
// format.
func (r *Registry) WriteText(w io.Writer) error {
	fs := r.Gather()
	for i := 1; i < len(fs); i++ {
		if fs[i].Name == fs[i-1].Name {
			return fmt.Errorf("%w: %s", errDuplicateFamily, fs[i].Name)
		}
	}
	buf := make([]byte, 0, 64<<10)
	for i := range fs {
		f := &fs[i]
		buf = appendHeader(buf, f)
		for j := range f.Series {
			buf = appendSeries(buf, f, &f.Series[j])
			if len(buf) > 48<<10 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// validMetricName reports whether n matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(n string) bool { return validName(n, true) }

// validLabelName reports whether n matches [a-zA-Z_][a-zA-Z0-9_]* and does
// not start with "__" (reserved).
func validLabelName(n string) bool { return !strings.HasPrefix(n, "__") && validName(n, false) }

// validName reports whether n is a letter or underscore (or a colon, when
// colon is set) followed by those or digits.
func validName(n string, colon bool) bool {
	if n == "" {
		return false
	}
	for i, c := range []byte(n) {
		ok := c == '_' || colon && c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}
