package prom

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// CounterOpts name and describe a counter.
type CounterOpts struct{ Name, Help string }

// GaugeOpts name and describe a gauge.
type GaugeOpts struct{ Name, Help string }

// HistogramOpts name and describe a histogram; Buckets are the upper
// bounds, increasing (+Inf is implied).
type HistogramOpts struct {
	Name, Help string
	Buckets    []float64
}

// atomicFloat is a float64 updated with compare-and-swap.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) load() float64 { return math.Float64frombits(f.bits.Load()) }

func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }

func (f *atomicFloat) add(d float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Counter only goes up.
type Counter struct {
	desc
	v atomicFloat
}

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d, which must not be negative.
func (c *Counter) Add(d float64) {
	if d < 0 {
		panic("prom: a counter cannot decrease")
	}
	c.v.add(d)
}

// Value is the counter's current value.
func (c *Counter) Value() float64 { return c.v.load() }

// Gauge goes up and down.
type Gauge struct {
	desc
	v atomicFloat
}

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.v.store(v) }

// Inc adds 1.
func (g *Gauge) Inc() { g.v.add(1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { g.v.add(-1) }

// Add adds d.
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Value is the gauge's current value.
func (g *Gauge) Value() float64 { return g.v.load() }

// Histogram counts observations in buckets.
type Histogram struct {
	desc
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomicFloat
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	h.sum.add(v)
}

// series is a snapshot of h; the count is the sum of the buckets, so
// _count always equals the +Inf bucket.
func (h *Histogram) series(values []string) Series {
	s := Series{LabelValues: values, Bounds: h.bounds, Cumulated: make([]uint64, len(h.bounds)), Sum: h.sum.load()}
	for i := range h.counts {
		s.Count += h.counts[i].Load()
		if i < len(h.bounds) {
			s.Cumulated[i] = s.Count
		}
	}
	return s
}

// desc is a family's name, help, type and sorted label names, with the
// permutation that puts label values given in declaration order into
// sorted order.
type desc struct {
	name, help string
	typ        Type
	labels     []string // sorted
	order      []int    // labels[i] is the declared label order[i]
}

func newDesc(name, help string, typ Type, labels []string) desc {
	if !validMetricName(name) {
		panic(fmt.Sprintf("prom: %q is not a valid metric name", name))
	}
	d := desc{name: name, help: help, typ: typ, labels: make([]string, len(labels)), order: make([]int, len(labels))}
	for i, l := range labels {
		if !validLabelName(l) || slices.Contains(labels[:i], l) || typ == TypeHistogram && l == "le" {
			panic(fmt.Sprintf("prom: %s: bad or repeated label name %q", name, l))
		}
		d.order[i] = i
	}
	slices.SortFunc(d.order, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	for i, o := range d.order {
		d.labels[i] = labels[o]
	}
	return d
}

// Labels returns the label names in the order they were declared (the
// order WithLabelValues takes).
func (d *desc) Labels() []string {
	out := make([]string, len(d.labels))
	for i, o := range d.order {
		out[o] = d.labels[i]
	}
	return out
}

// Describe returns the family's name.
func (d *desc) Describe() []string { return []string{d.name} }

func (d *desc) family(n int) Family {
	return Family{Name: d.name, Help: d.help, Type: d.typ, LabelNames: d.labels, Series: make([]Series, 0, n)}
}

// sorted returns values (in declaration order) in label name order.
func (d *desc) sorted(values []string) []string {
	out := make([]string, len(values))
	for i, o := range d.order {
		out[i] = values[o]
	}
	return out
}

// NewCounter returns a counter without labels.
func NewCounter(o CounterOpts) *Counter {
	return &Counter{desc: newDesc(o.Name, o.Help, TypeCounter, nil)}
}

// Collect appends the counter's family.
func (c *Counter) Collect(fs []Family) []Family {
	f := c.family(1)
	f.Series = append(f.Series, Series{Value: c.Value()})
	return append(fs, f)
}

// NewGauge returns a gauge without labels.
func NewGauge(o GaugeOpts) *Gauge { return &Gauge{desc: newDesc(o.Name, o.Help, TypeGauge, nil)} }

// Collect appends the gauge's family.
func (g *Gauge) Collect(fs []Family) []Family {
	f := g.family(1)
	f.Series = append(f.Series, Series{Value: g.Value()})
	return append(fs, f)
}

// NewHistogram returns a histogram without labels.
func NewHistogram(o HistogramOpts) *Histogram {
	return newHistogram(newDesc(o.Name, o.Help, TypeHistogram, nil), checkBuckets(o.Name, o.Buckets))
}

// checkBuckets returns a copy of buckets, which must increase and leave
// out +Inf; the histograms of a vector share it.
func checkBuckets(name string, buckets []float64) []float64 {
	if !slices.IsSorted(buckets) || slices.Contains(buckets, math.Inf(1)) || len(slices.Compact(slices.Clone(buckets))) != len(buckets) {
		panic(fmt.Sprintf("prom: %s: buckets must increase and leave out +Inf", name))
	}
	return slices.Clone(buckets)
}

func newHistogram(d desc, bounds []float64) *Histogram {
	return &Histogram{desc: d, bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Collect appends the histogram's family.
func (h *Histogram) Collect(fs []Family) []Family {
	f := h.family(1)
	f.Series = append(f.Series, h.series(nil))
	return append(fs, f)
}

// vec holds the children of a labelled family, one per label values.
type vec[T any] struct {
	desc
	newChild func() *T
	mu       sync.RWMutex
	children map[string]*child[T]
	bySeries []*child[T] // by label values in label name order, as scrapes list them
}

type child[T any] struct {
	values []string // sorted by label name
	m      *T
}

func newVec[T any](d desc, newChild func() *T) *vec[T] {
	return &vec[T]{desc: d, newChild: newChild, children: map[string]*child[T]{}}
}

// WithLabelValues returns the child for values, given in the order of the
// label names, creating it at 0. A wrong number of values panics.
func (v *vec[T]) WithLabelValues(values ...string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("prom: %s takes %d label values, got %d", v.name, len(v.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &child[T]{values: v.sorted(values), m: v.newChild()}
		v.children[key] = c
		i, _ := slices.BinarySearchFunc(v.bySeries, c.values, func(c *child[T], values []string) int { return slices.Compare(c.values, values) })
		v.bySeries = slices.Insert(v.bySeries, i, c)
	}
	return c.m
}

// Reset removes every child.
func (v *vec[T]) Reset() {
	v.mu.Lock()
	clear(v.children)
	v.bySeries = nil
	v.mu.Unlock()
}

func (v *vec[T]) collect(fs []Family, series func(values []string, m *T) Series) []Family {
	v.mu.RLock()
	f := v.family(len(v.bySeries))
	for _, c := range v.bySeries {
		f.Series = append(f.Series, series(c.values, c.m))
	}
	v.mu.RUnlock()
	return append(fs, f)
}

// CounterVec is a counter with labels.
type CounterVec struct{ *vec[Counter] }

// NewCounterVec returns a counter with the given label names.
func NewCounterVec(o CounterOpts, labels []string) *CounterVec {
	return &CounterVec{newVec(newDesc(o.Name, o.Help, TypeCounter, labels), func() *Counter { return new(Counter) })}
}

// Collect appends the family.
func (v *CounterVec) Collect(fs []Family) []Family {
	return v.collect(fs, func(values []string, c *Counter) Series { return Series{LabelValues: values, Value: c.Value()} })
}

// GaugeVec is a gauge with labels.
type GaugeVec struct{ *vec[Gauge] }

// NewGaugeVec returns a gauge with the given label names.
func NewGaugeVec(o GaugeOpts, labels []string) *GaugeVec {
	return &GaugeVec{newVec(newDesc(o.Name, o.Help, TypeGauge, labels), func() *Gauge { return new(Gauge) })}
}

// Collect appends the family.
func (v *GaugeVec) Collect(fs []Family) []Family {
	return v.collect(fs, func(values []string, g *Gauge) Series { return Series{LabelValues: values, Value: g.Value()} })
}

// HistogramVec is a histogram with labels.
type HistogramVec struct{ *vec[Histogram] }

// NewHistogramVec returns a histogram with the given label names.
func NewHistogramVec(o HistogramOpts, labels []string) *HistogramVec {
	d := newDesc(o.Name, o.Help, TypeHistogram, labels)
	bounds := checkBuckets(o.Name, o.Buckets)
	return &HistogramVec{newVec(d, func() *Histogram { return newHistogram(desc{}, bounds) })}
}

// Collect appends the family.
func (v *HistogramVec) Collect(fs []Family) []Family {
	return v.collect(fs, func(values []string, h *Histogram) Series { return h.series(values) })
}
