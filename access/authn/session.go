package authn

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/store"
)

// StartSession logs acc in: a server-side session row and a cookie with
// 256 random bits (Secure, HttpOnly, SameSite, path /). The cookie's
// lifetime is the session's absolute expiry; the idle expiry is kept on
// the server. The login is recorded in the audit trail.
func (a *Authenticator) StartSession(ctx context.Context, w http.ResponseWriter, acc store.Account, method, source string) error {
	value := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	now := a.now()
	se := store.Session{IDHash: hashSecret(value), AccountID: acc.ID, Method: method, Source: source,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(a.o.AbsoluteTimeout)}
	if err := a.st.InsertSession(ctx, se); err != nil {
		return err
	}
	http.SetCookie(w, a.cookie(value, int(a.o.AbsoluteTimeout.Seconds())))
	a.record(audit.Event{Actor: acc.Principal(), Action: audit.ActionLogin, Detail: map[string]string{"method": method, "source": source}})
	return nil
}

func (a *Authenticator) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: a.o.CookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: !a.o.Insecure, HttpOnly: true, SameSite: a.o.SameSite}
}

func (a *Authenticator) fromSession(ctx context.Context, value string) (access.Principal, error) {
	fail := func(result string) (access.Principal, error) {
		a.authn.WithLabelValues("session", result).Inc()
		return access.Principal{}, ErrUnauthenticated
	}
	se, err := a.st.SessionByHash(ctx, hashSecret(value))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail("invalid")
	case err != nil:
		return access.Principal{}, err
	}
	now := a.now()
	if !now.Before(se.ExpiresAt) || now.Sub(se.LastSeenAt) >= a.o.IdleTimeout {
		a.st.DeleteSession(ctx, se.IDHash)
		return fail("expired")
	}
	acc, err := a.st.AccountByID(ctx, se.AccountID)
	if err != nil || acc.Disabled {
		a.st.DeleteSession(ctx, se.IDHash)
		return fail("invalid")
	}
	if now.Sub(se.LastSeenAt) >= touchEvery {
		a.st.TouchSession(ctx, se.IDHash, now)
	}
	a.authn.WithLabelValues("session", "ok").Inc()
	return acc.Principal(), nil
}

// Logout ends the request's session and clears its cookie.
func (a *Authenticator) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.o.CookieName); err == nil && c.Value != "" {
		if p, err := a.fromSession(r.Context(), c.Value); err == nil {
			a.record(audit.Event{Actor: p, Action: audit.ActionLogout})
		}
		a.st.DeleteSession(r.Context(), hashSecret(c.Value))
	}
	http.SetCookie(w, a.cookie("", -1))
}
