// Package httpstatus notes the status of the response an http.Handler
// writes, for the metrics and spans that are labelled by it.
package httpstatus

import "net/http"

// Writer is an http.ResponseWriter that notes the final status written
// through it. Unwrap lets http.ResponseController reach the connection's
// Flush and Hijack, which proxies use for streams and upgrades.
type Writer struct {
	http.ResponseWriter
	// Status is the final status written; 0 before any.
	Status int
}

// WriteHeader notes code unless it is an interim (1xx) response (100
// Continue, 103 Early Hints), which precedes the final one.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write notes 200, as net/http sends it, when no status was written.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the ResponseWriter written through.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Final is the status the client got: 200 when the handler wrote
// nothing, as net/http answers then.
func (w *Writer) Final() int {
	if w.Status == 0 {
		return http.StatusOK
	}
	return w.Status
}
