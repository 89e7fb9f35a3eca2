package authn

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/limit"
)

// maxLoginBody bounds a login request.
const maxLoginBody = 4 << 10

// source is the request's client address: as the front door's middleware
// determined it (access.WithSource), else the peer address.
func source(r *http.Request) string {
	if s := access.SourceFromContext(r.Context()); s != "" {
		return s
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LoginHandler serves POST {"username", "password"} (JSON): 204 with the
// session cookie, 401 "invalid username or password" for any wrong
// combination, 429 with Retry-After while the account or the source is
// locked out. Put it behind web.Protect (cross-origin check, JSON only,
// body limit).
func (a *Authenticator) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var req struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Username == "" || req.Password == "" {
			http.Error(w, "bad request: want {\"username\", \"password\"}", http.StatusBadRequest)
			return
		}
		src := source(r)
		acc, err := a.Login(r.Context(), req.Username, req.Password, src)
		var le *limit.LockedError
		switch {
		case errors.As(err, &le):
			w.Header().Set("Retry-After", strconv.Itoa(int(le.Until.Sub(a.now())/time.Second)+1))
			http.Error(w, "too many failed attempts; try again later", http.StatusTooManyRequests)
			return
		case errors.Is(err, ErrBadCredentials):
			http.Error(w, ErrBadCredentials.Error(), http.StatusUnauthorized)
			return
		case err != nil:
			a.log.Error("login failed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if err := a.StartSession(r.Context(), w, acc, "password", src); err != nil {
			a.log.Error("session not started", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// LogoutHandler serves POST: ends the session, clears the cookie, 204.
func (a *Authenticator) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a.Logout(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
}
