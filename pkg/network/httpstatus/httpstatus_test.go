package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriterNotesTheFinalStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int // Status
		final int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0, http.StatusOK},
		{"a body alone", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK, http.StatusOK},
		{"a status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, http.StatusNotFound, http.StatusNotFound},
		{"an interim response, then the final one", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, http.StatusAccepted, http.StatusAccepted},
		{"the first final status counts", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			w.WriteHeader(http.StatusOK)
		}, http.StatusBadGateway, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Writer{ResponseWriter: httptest.NewRecorder()}
			tc.write(w)
			if w.Status != tc.want || w.Final() != tc.final {
				t.Errorf("Status %d, Final %d; want %d and %d", w.Status, w.Final(), tc.want, tc.final)
			}
			if w.Unwrap() == nil {
				t.Error("Unwrap gave nothing")
			}
		})
	}
}
