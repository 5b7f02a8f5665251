package routing

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// pathKind orders path match types by the precedence the Gateway API
// gives them: Exact before PathPrefix. RegularExpression precedence is
// left to implementations; it comes last here, so that a regular
// expression never shadows a prefix someone spelled out.
type pathKind int

const (
	pathRegex pathKind = iota
	pathPrefix
	pathExact
)

// match is one HTTPRouteMatch of a rule, compiled.
type match struct {
	rule *Rule

	pathKind  pathKind
	path      string // Exact value, or prefix without its trailing slash
	pathLen   int    // characters of the value as written, for precedence
	pathRegex *regexp.Regexp
	method    string
	headers   []valueMatch
	queries   []valueMatch

	// Ties between routes go to the oldest, then to namespace/name in
	// alphabetical order; within a route to the first rule and match.
	routeCreated int64 // Unix nanoseconds
	routeKey     string
	ruleIndex    int
	matchIndex   int
}

// valueMatch matches a header or query parameter by name.
type valueMatch struct {
	name  string
	exact string
	regex *regexp.Regexp
}

func (v valueMatch) matches(value string, present bool) bool {
	if !present {
		return false
	}
	if v.regex != nil {
		return v.regex.MatchString(value)
	}
	return value == v.exact
}

// compileMatch compiles m; an error names the field and what is
// supported instead.
func compileMatch(m gatewayv1.HTTPRouteMatch, field string) (*match, error) {
	// No path match is PathPrefix "/", which is "" once its trailing slash
	// is trimmed.
	c := &match{pathKind: pathPrefix, path: "", pathLen: 1}
	if m.Path != nil {
		value := "/"
		if m.Path.Value != nil {
			value = *m.Path.Value
		}
		kind := gatewayv1.PathMatchPathPrefix
		if m.Path.Type != nil {
			kind = *m.Path.Type
		}
		c.pathLen = len(value)
		switch kind {
		case gatewayv1.PathMatchExact:
			c.pathKind, c.path = pathExact, value
		case gatewayv1.PathMatchPathPrefix:
			// "/foo/" and "/foo" both match the segment "/foo" and what
			// lies under it.
			c.pathKind, c.path = pathPrefix, strings.TrimSuffix(value, "/")
		case gatewayv1.PathMatchRegularExpression:
			re, err := regexp.Compile("^(?:" + value + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s.path.value: %q is not an RE2 regular expression: %w", field, value, err)
			}
			c.pathKind, c.pathRegex = pathRegex, re
		default:
			return nil, fmt.Errorf("%s.path.type: %q is not supported; use Exact, PathPrefix or RegularExpression", field, kind)
		}
	}
	if m.Method != nil {
		c.method = string(*m.Method)
	}
	for i, h := range m.Headers {
		kind := gatewayv1.HeaderMatchExact
		if h.Type != nil {
			kind = *h.Type
		}
		v, err := compileValue(string(h.Name), h.Value, string(kind), fmt.Sprintf("%s.headers[%d]", field, i))
		if err != nil {
			return nil, err
		}
		v.name = http.CanonicalHeaderKey(v.name)
		c.headers = append(c.headers, v)
	}
	for i, q := range m.QueryParams {
		kind := gatewayv1.QueryParamMatchExact
		if q.Type != nil {
			kind = *q.Type
		}
		v, err := compileValue(string(q.Name), q.Value, string(kind), fmt.Sprintf("%s.queryParams[%d]", field, i))
		if err != nil {
			return nil, err
		}
		c.queries = append(c.queries, v)
	}
	return c, nil
}

func compileValue(name, value, kind, field string) (valueMatch, error) {
	switch kind {
	case "Exact":
		return valueMatch{name: name, exact: value}, nil
	case "RegularExpression":
		re, err := regexp.Compile(value)
		if err != nil {
			return valueMatch{}, fmt.Errorf("%s.value: %q is not an RE2 regular expression: %w", field, value, err)
		}
		return valueMatch{name: name, regex: re}, nil
	}
	return valueMatch{}, fmt.Errorf("%s.type: %q is not supported; use Exact or RegularExpression", field, kind)
}

// matches reports whether r satisfies every condition of m.
func (m *match) matches(r *Request) bool {
	path := r.Path
	if path == "" {
		path = "/"
	}
	switch m.pathKind {
	case pathExact:
		if path != m.path {
			return false
		}
	case pathPrefix:
		// Segment semantics: "/foo" matches "/foo" and "/foo/…", never
		// "/foobar".
		if m.path != "" && path != m.path && !strings.HasPrefix(path, m.path+"/") {
			return false
		}
	case pathRegex:
		if !m.pathRegex.MatchString(path) {
			return false
		}
	}
	if m.method != "" && r.Method != m.method {
		return false
	}
	for _, h := range m.headers {
		// Repeated header lines mean the same as one comma-separated
		// line (RFC 9110, 5.3).
		value, ok := r.Host, true
		if h.name != "Host" {
			value, ok = r.Header.Joined(h.name)
		}
		if !h.matches(value, ok) {
			return false
		}
	}
	if len(m.queries) > 0 {
		// As url.URL's Query: malformed pairs are left out.
		query, _ := url.ParseQuery(r.RawQuery)
		for _, q := range m.queries {
			values, ok := query[q.name]
			// The first value counts when a parameter repeats.
			first := ""
			if ok {
				first = values[0]
			}
			if !q.matches(first, ok) {
				return false
			}
		}
	}
	return true
}

// before reports whether a takes precedence over b, in the Gateway API's
// order: an Exact path, then the longest PathPrefix, then a method match,
// then the most header matches, then the most query matches; then the
// oldest route, its namespace/name, and the rule and match order.
func before(a, b *match) bool {
	if a.pathKind != b.pathKind {
		return a.pathKind > b.pathKind
	}
	if a.pathLen != b.pathLen {
		return a.pathLen > b.pathLen
	}
	if (a.method != "") != (b.method != "") {
		return a.method != ""
	}
	if len(a.headers) != len(b.headers) {
		return len(a.headers) > len(b.headers)
	}
	if len(a.queries) != len(b.queries) {
		return len(a.queries) > len(b.queries)
	}
	if a.routeCreated != b.routeCreated {
		return a.routeCreated < b.routeCreated
	}
	if a.routeKey != b.routeKey {
		return a.routeKey < b.routeKey
	}
	if a.ruleIndex != b.ruleIndex {
		return a.ruleIndex < b.ruleIndex
	}
	return a.matchIndex < b.matchIndex
}
