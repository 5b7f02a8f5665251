// Package pingsource reconciles PingSources: it resolves each source's
// sink to status.sinkUri, lists the attributes of the events it sends, and
// reports whether the one adapter that sends every PingSource's events
// (pkg/sources/ping/adapter) is available. It makes no object per source:
// the adapter reads the sources themselves.
package pingsource
