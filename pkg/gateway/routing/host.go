package routing

import (
	"net"
	"strings"
)

// NormalizeHost returns the hostname of a Host header as the Gateway API
// matches it: without a port or a trailing dot, in lower case.
func NormalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// isWildcard reports whether a Gateway API hostname is a "*." suffix
// pattern.
func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// wildcardMatches reports whether host falls under the pattern "*.suffix":
// one or more labels in front of the suffix, never the suffix alone.
func wildcardMatches(pattern, host string) bool {
	suffix := pattern[1:] // ".example.com"
	return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
}

// intersect returns the hostname both a listener and a route accept, or
// false when they accept none in common. An empty hostname accepts any.
// Of two wildcards the narrower one is the intersection.
func intersect(listener, route string) (string, bool) {
	switch {
	case listener == "":
		return route, true
	case route == "":
		return listener, true
	case listener == route:
		return route, true
	case isWildcard(listener) && isWildcard(route):
		if wildcardMatches(listener, route[2:]) {
			return route, true
		}
		if wildcardMatches(route, listener[2:]) {
			return listener, true
		}
		return "", false
	case isWildcard(listener):
		return route, wildcardMatches(listener, route)
	case isWildcard(route):
		return listener, wildcardMatches(route, listener)
	}
	return "", false
}
