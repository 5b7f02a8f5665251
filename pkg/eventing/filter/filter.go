package filter

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	cesql "github.com/cloudevents/sdk-go/sql/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// Filter decides whether an event goes to a Trigger's subscriber.
type Filter interface {
	// Match reports whether ev passes the filter. A nil event has no
	// attributes.
	Match(ev *event.Event) bool
}

// Compile builds the Filter of a Trigger from its attribute filter and its
// Subscriptions API filters, either of which may be empty. It returns an
// error naming the offending field for input that validation rejects: a
// filter with no dialect or with several, an exact, prefix or suffix that
// does not name exactly one attribute, an attribute name that is not
// lower-case letters and digits, a prefix or suffix without a value, or a
// CESQL expression that does not parse.
func Compile(attrs *eventingv1.TriggerFilter, filters []eventingv1.SubscriptionsAPIFilter) (Filter, error) {
	var ms []matcher
	if attrs != nil {
		// Sorted, so that one Trigger always checks in one order.
		for _, name := range slices.Sorted(maps.Keys(attrs.Attributes)) {
			a, err := newAttribute(name)
			if err != nil {
				return nil, fmt.Errorf("filter.attributes[%s]: %w", name, err)
			}
			ms = append(ms, newAttrMatcher(a, opExact, attrs.Attributes[name]))
		}
	}
	for i := range filters {
		m, err := compile(&filters[i], "filters["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return allOf(ms), nil
}

// matcher is a compiled filter expression.
type matcher interface {
	Filter
	// cost estimates the work of one Match, to check cheap expressions
	// before dear ones.
	cost() int
}

func compile(f *eventingv1.SubscriptionsAPIFilter, path string) (matcher, error) {
	var dialects []string
	if f.All != nil {
		dialects = append(dialects, "all")
	}
	if f.Any != nil {
		dialects = append(dialects, "any")
	}
	if f.Not != nil {
		dialects = append(dialects, "not")
	}
	if f.Exact != nil {
		dialects = append(dialects, "exact")
	}
	if f.Prefix != nil {
		dialects = append(dialects, "prefix")
	}
	if f.Suffix != nil {
		dialects = append(dialects, "suffix")
	}
	if f.CESQL != "" {
		dialects = append(dialects, "cesql")
	}
	switch len(dialects) {
	case 0:
		return nil, fmt.Errorf("%s: a filter needs one dialect: exact, prefix, suffix, all, any, not or cesql", path)
	case 1:
	default:
		return nil, fmt.Errorf("%s: a filter holds one dialect, got %v", path, dialects)
	}

	switch {
	case f.All != nil:
		ms, err := compileList(f.All, path+".all")
		if err != nil {
			return nil, err
		}
		return allOf(ms), nil
	case f.Any != nil:
		ms, err := compileList(f.Any, path+".any")
		if err != nil {
			return nil, err
		}
		return anyOf(ms), nil
	case f.Not != nil:
		m, err := compile(f.Not, path+".not")
		if err != nil {
			return nil, err
		}
		return negate(m), nil
	case f.Exact != nil:
		return compileAttr(f.Exact, opExact, path+".exact")
	case f.Prefix != nil:
		return compileAttr(f.Prefix, opPrefix, path+".prefix")
	case f.Suffix != nil:
		return compileAttr(f.Suffix, opSuffix, path+".suffix")
	}
	return compileCESQL(f.CESQL, path+".cesql")
}

func compileList(fs []eventingv1.SubscriptionsAPIFilter, path string) ([]matcher, error) {
	ms := make([]matcher, 0, len(fs))
	for i := range fs {
		m, err := compile(&fs[i], path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func compileAttr(attrs map[string]string, o op, path string) (matcher, error) {
	if len(attrs) != 1 {
		return nil, fmt.Errorf("%s: must name exactly one attribute, got %d; put each in its own filter", path, len(attrs))
	}
	// Take the one entry.
	var name, value string
	for n, v := range attrs {
		name, value = n, v
	}
	a, err := newAttribute(name)
	if err != nil {
		return nil, fmt.Errorf("%s[%s]: %w", path, name, err)
	}
	if value == "" && o != opExact {
		return nil, fmt.Errorf("%s[%s]: needs a value", path, name)
	}
	return newAttrMatcher(a, o, value), nil
}

func compileCESQL(expr, path string) (matcher, error) {
	parsed, err := eventingv1.ParseCESQL(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing CESQL expression %q: %w", path, expr, err)
	}
	return &cesqlMatcher{expr: parsed}, nil
}

// op is the comparison an attrMatcher makes.
type op uint8

const (
	// opPresent asks only that the event has the attribute.
	opPresent op = iota
	opExact
	opPrefix
	opSuffix
)

// attrMatcher compares one attribute with a value.
type attrMatcher struct {
	attr attribute
	op   op
	want string
}

func newAttrMatcher(a attribute, o op, want string) *attrMatcher {
	if o == opExact && want == "" {
		// The attribute filter's "any value", which exact shares.
		o = opPresent
	}
	return &attrMatcher{attr: a, op: o, want: want}
}

func (m *attrMatcher) Match(ev *event.Event) bool {
	// Room for a time in RFC 3339 with nanoseconds, or an int32.
	var buf [40]byte
	t, ok := m.attr.lookup(ev, buf[:0])
	if !ok {
		return false
	}
	switch m.op {
	case opExact:
		return t.equal(m.want)
	case opPrefix:
		return t.hasPrefix(m.want)
	case opSuffix:
		return t.hasSuffix(m.want)
	}
	return true
}

func (m *attrMatcher) cost() int { return m.attr.cost() }

// cesqlCost puts CESQL last: evaluating it allocates, and each attribute it
// reads copies the event's extensions.
const cesqlCost = 100

// cesqlMatcher matches when a CESQL expression evaluates to true.
type cesqlMatcher struct {
	expr cesql.Expression
}

func (m *cesqlMatcher) Match(ev *event.Event) (matched bool) {
	if ev == nil || ev.Context == nil {
		return false
	}
	// An expression that fails on one event must not fail the dispatcher:
	// a panic in the evaluator is no match, as an error is.
	defer func() {
		if recover() != nil {
			matched = false
		}
	}()
	v, err := m.expr.Evaluate(*ev)
	if err != nil {
		return false
	}
	b, ok := v.(bool)
	return ok && b
}

func (*cesqlMatcher) cost() int { return cesqlCost }

// conjunction matches when every matcher does, checked cheapest first.
type conjunction []matcher

func (c conjunction) Match(ev *event.Event) bool {
	for _, m := range c {
		if !m.Match(ev) {
			return false
		}
	}
	return true
}

func (c conjunction) cost() int { return totalCost(c) }

// disjunction matches when some matcher does, checked cheapest first.
type disjunction []matcher

func (d disjunction) Match(ev *event.Event) bool {
	for _, m := range d {
		if m.Match(ev) {
			return true
		}
	}
	return false
}

func (d disjunction) cost() int { return totalCost(d) }

// negation matches when its matcher does not.
type negation struct{ m matcher }

func (n negation) Match(ev *event.Event) bool { return !n.m.Match(ev) }

func (n negation) cost() int { return n.m.cost() }

// constant matches every event or none.
type constant bool

func (c constant) Match(*event.Event) bool { return bool(c) }

func (constant) cost() int { return 0 }

func totalCost(ms []matcher) int {
	n := 0
	for _, m := range ms {
		n += m.cost()
	}
	return n
}

// allOf joins ms into one matcher that matches when all of them do:
// nested conjunctions are flattened, constants folded, and the rest sorted
// cheapest first. Order does not change the result, as no matcher has an
// effect or fails.
func allOf(ms []matcher) matcher {
	var flat conjunction
	for _, m := range ms {
		switch m := m.(type) {
		case constant:
			if !m {
				return constant(false)
			}
		case conjunction:
			flat = append(flat, m...)
		default:
			flat = append(flat, m)
		}
	}
	switch len(flat) {
	case 0:
		return constant(true)
	case 1:
		return flat[0]
	}
	sortByCost(flat)
	return flat
}

// anyOf joins ms into one matcher that matches when at least one of them
// does; with none, it matches nothing.
func anyOf(ms []matcher) matcher {
	var flat disjunction
	for _, m := range ms {
		switch m := m.(type) {
		case constant:
			if m {
				return constant(true)
			}
		case disjunction:
			flat = append(flat, m...)
		default:
			flat = append(flat, m)
		}
	}
	switch len(flat) {
	case 0:
		return constant(false)
	case 1:
		return flat[0]
	}
	sortByCost(flat)
	return flat
}

func negate(m matcher) matcher {
	switch m := m.(type) {
	case constant:
		return !m
	case negation:
		return m.m
	}
	return negation{m: m}
}

func sortByCost(ms []matcher) {
	slices.SortStableFunc(ms, func(a, b matcher) int { return a.cost() - b.cost() })
}
