package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// privateHandler serves a page for an authenticated principal.
type privateHandler func(w http.ResponseWriter, r *http.Request, p access.Principal)

// routes is the console's mux. Every route goes through the access kit's
// front for HTML pages (cross-origin protection on every state-changing
// request, security headers, body limit, 5xx text hidden); private pages
// then need a session, and send the browser to the login page without one.
func (c *Console) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	pub := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, c.kit.Pages.Public(h)) }
	priv := func(pattern string, h privateHandler) { mux.Handle(pattern, c.kit.Pages.Public(c.private(h))) }

	pub("GET /static/console.css", c.serveCSS)
	pub("GET /login", c.loginPage)
	pub("POST /login", c.login)
	pub("POST /logout", c.logout)
	pub("GET /a/{token}", c.shortLink)
	if c.kit.OIDC != nil {
		mux.Handle("GET /oidc/login", c.kit.Pages.Public(c.kit.OIDC.LoginHandler()))
		mux.Handle("GET /oidc/callback", c.kit.Pages.Public(c.kit.OIDC.CallbackHandler()))
	}
	pub("GET /public/f/{facility}", c.publicFacility)
	pub("GET /public/spot", c.publicDraws)
	pub("GET /public/spot/{id}", c.publicDraw)
	pub("GET /public/spot/{id}/draw.json", c.publicDrawJSON)

	c.apiRoutes(mux)
	mux.Handle("/api/", c.kit.Front.Public(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.m.refused.WithLabelValues("not_found").Inc()
		web.Error(w, http.StatusNotFound, "no such API path")
	})))

	priv("GET /{$}", c.home)
	priv("GET /alerts", c.alertList)
	priv("GET /f/{facility}", c.facilityPage)
	priv("GET /f/{facility}/alerts/{fp}", c.alertPage)
	priv("POST /f/{facility}/alerts/{fp}/ack", c.ack)
	priv("POST /f/{facility}/silences", c.silence)
	priv("POST /f/{facility}/silences/{id}/end", c.unsilence)
	priv("GET /f/{facility}/rooms/{room}", c.chartPage)
	priv("GET /report", c.reportPage)
	priv("GET /spot", c.spotPage)
	priv("POST /spot/draws", c.spotDraw)
	priv("POST /spot/inspectors", c.spotInspector)
	priv("POST /spot/conflicts", c.spotConflict)
	priv("GET /spot/draws/{id}", c.spotDrawPage)
	priv("POST /spot/draws/{id}/publish", c.spotPublish)
	priv("POST /spot/draws/{id}/results", c.spotResult)
	mux.Handle("/", c.kit.Pages.Public(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, nil, "no_route")
	})))
	if err := c.callbackRoutes(mux); err != nil {
		return nil, err
	}
	return mux, nil
}

// private authenticates a page request: no session sends a GET to the
// login page (coming back here afterwards) and answers anything else with
// the login page too; a locked source gets 429.
func (c *Console) private(h privateHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p, err := c.kit.Auth.Authenticate(r, access.SourceFromContext(r.Context()))
		var le *limit.LockedError
		switch {
		case errors.As(err, &le):
			w.Header().Set("Retry-After", strconv.Itoa(int(le.Until.Sub(c.now())/time.Second)+1))
			c.message(w, r, nil, http.StatusTooManyRequests, "请稍后再试", "失败次数过多，暂时锁定。")
			return
		case errors.Is(err, authn.ErrUnauthenticated):
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?return_to="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.message(w, r, nil, http.StatusUnauthorized, "请先登录", "登录已过期，请重新登录后再提交。")
			return
		case err != nil:
			web.Internal(w, r, c.log, err)
			return
		}
		h(w, r.WithContext(access.WithPrincipal(r.Context(), p)), p)
	})
}

// facilityFor returns the registered facility if p may do a to it. A
// facility that does not exist and one outside p's scope answer alike
// (nil), so a URL gives no hint of what lies outside.
func (c *Console) facilityFor(r *http.Request, p access.Principal, id string, a access.Action) *registry.Facility {
	f := c.reg.Snapshot().Facility(id)
	if f == nil {
		return nil
	}
	if err := access.Authorize(p, a, access.ForFacility(f.ID, f.Region)); err != nil {
		c.kit.Pages.Forbidden(discard{}, r, err) // counted and logged (rate-limited) by the front
		return nil
	}
	return f
}

// discard is a ResponseWriter for the front's refusal accounting when the
// console writes its own page.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// visible lists the registered facilities p may view, by ID.
func (c *Console) visible(p access.Principal) []*registry.Facility {
	var out []*registry.Facility
	for _, f := range c.reg.Snapshot().Facilities() {
		if access.Authorize(p, access.ActionView, access.ForFacility(f.ID, f.Region)) == nil {
			out = append(out, f)
		}
	}
	return out
}

// scopeOf is p's scope for lists.
func scopeOf(p access.Principal) Scope {
	s := p.Scope()
	return Scope{Region: s.Region, Facilities: s.Facilities}
}

// actor is p as a command names it.
func actor(p access.Principal) model.Actor {
	a := model.Actor{Kind: string(p.Kind), ID: p.ID, Name: p.Name, Role: string(p.Role)}
	if p.Role != access.RoleOperator && p.Region.Level() != model.LevelCountry {
		a.Region = p.Region.String()
	}
	return a
}

// audit records a state-changing action with the authenticated actor. A
// record that cannot be written is logged; the action has happened.
func (c *Console) audit(p access.Principal, action, facility string, region model.Region, subject string, detail any) {
	if _, err := c.kit.Audit.Append(audit.Event{Actor: p, Action: action, Facility: facility, Region: string(region),
		Subject: subject, Detail: detail}); err != nil {
		c.log.Error("audit record not written", "action", action, "facility", facility, "err", err)
	}
}

// count counts an action's result.
func (c *Console) count(action, result string) { c.m.actions.WithLabelValues(action, result).Inc() }

// resultOf names an error of the backend for the action counter.
func resultOf(err error) string {
	var re *RefusedError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.As(err, &re):
		return "refused"
	case errors.Is(err, access.ErrDenied), errors.Is(err, access.ErrSilenceRejected):
		return "refused"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

func (c *Console) serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(consoleCSS)
}

var _ = fmt.Sprint

// Authenticator is the console's authenticator, for composition roots
// that create accounts in-process (the demo's accounts, tests); people's
// accounts are made with cwadmin.
func (c *Console) Authenticator() *authn.Authenticator { return c.kit.Auth }
