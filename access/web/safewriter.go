package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
)

// maxHiddenBody is how much of a hidden 5xx body goes to the log.
const maxHiddenBody = 1024

// safeWriter replaces the body of every 5xx answer with a reference
// number: whatever a handler wrote (an error's text, a path, a SQL
// message) goes to the log under that reference, never to the client.
type safeWriter struct {
	http.ResponseWriter
	f      *Front
	r      *http.Request
	wrote  bool
	hidden []byte
	status int
	ref    string
}

func (s *safeWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote, s.status = true, code
	if code < 500 {
		s.ResponseWriter.WriteHeader(code)
		return
	}
	s.ref = newRef()
	h := s.ResponseWriter.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json; charset=utf-8")
	s.ResponseWriter.WriteHeader(code)
	fmt.Fprintf(s.ResponseWriter, "{\"error\":\"internal error\",\"ref\":%q}\n", s.ref)
}

func (s *safeWriter) Write(p []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	if s.status >= 500 {
		if room := maxHiddenBody - len(s.hidden); room > 0 {
			s.hidden = append(s.hidden, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	return s.ResponseWriter.Write(p)
}

// finish logs a hidden body.
func (s *safeWriter) finish() {
	if s.status >= 500 {
		s.f.log.Error("internal error answered", "ref", s.ref, "status", s.status, "method", s.r.Method, "path", s.r.URL.Path,
			"body", string(s.hidden))
	}
}

// Unwrap lets http.ResponseController reach the real writer (Flush,
// deadlines).
func (s *safeWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes through to the real writer.
func (s *safeWriter) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func newRef() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Internal answers 500 and logs err with a reference number, which is all
// the client sees.
func Internal(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ref := newRef()
	log.Error("internal error", "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "{\"error\":\"internal error\",\"ref\":%q}\n", ref)
}
