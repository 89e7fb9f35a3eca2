// Package web gives CradleWatch's HTTP surfaces their secure defaults as
// middleware: cross-origin protection on every state-changing request,
// authentication (session cookie or bearer token) putting the principal in
// the request context, body limits, JSON-only APIs, security headers, no
// internal error text to clients, the client address behind trusted
// proxies, and a server with timeouts and optional TLS.
//
//	front, _ := web.New(web.Options{Auth: auth, JSONOnly: true, Logger: l, Registerer: reg})
//	mux.Handle("POST /api/v1/ack", front.Private(ackHandler))
//	mux.Handle("POST /api/v1/login", front.Public(auth.LoginHandler()))
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults.
const (
	DefaultMaxBody = 1 << 20
	// DefaultCSP allows this origin's own scripts, styles and images only,
	// no plugins, no framing, forms posting only here.
	DefaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	// logEvery: a rejection of one kind is logged at most once per minute
	// (the first at once), with how many went unlogged in between.
	logEvery = time.Minute
)

// Options configure the middleware.
type Options struct {
	// Auth authenticates Private handlers (nil: Private refuses all).
	Auth *authn.Authenticator
	// TrustedOrigins may send state-changing requests besides this
	// site's own ("https://console.example.gov.cn"). Browsers' cross-site
	// requests are refused otherwise; non-browser clients (no Origin,
	// no Sec-Fetch-Site) are not affected.
	TrustedOrigins []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the client address (rate limits, logs, audit).
	TrustedProxies []netip.Prefix
	MaxBody        int64
	// JSONOnly: POST, PUT and PATCH must say Content-Type:
	// application/json (415 otherwise). A form posted by another site
	// cannot say that without a CORS preflight, which is never granted.
	JSONOnly bool
	CSP      string
	// HSTS sends Strict-Transport-Security (set when the site is served
	// over TLS, here or at the proxy in front).
	HSTS       bool
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Front is the middleware of one HTTP surface.
type Front struct {
	o        Options
	cop      *http.CrossOriginProtection
	log      *slog.Logger
	rejected *prometheus.CounterVec
	panics   prometheus.Counter
	throttle *LogThrottle
}

// New builds the middleware; a malformed trusted origin is an error.
func New(o Options) (*Front, error) {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.CSP == "" {
		o.CSP = DefaultCSP
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Front{o: o, cop: http.NewCrossOriginProtection(), log: o.Logger.With("component", "web"),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_http_rejected_total",
			Help: "HTTP requests refused by the front door, by reason (cross_origin, content_type, body_too_large, unauthenticated, forbidden, locked)."}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_access_http_panics_total",
			Help: "Handler panics caught and answered with 500."}),
	}
	f.throttle = NewLogThrottle(f.log, logEvery, o.Now)
	for _, origin := range o.TrustedOrigins {
		if err := f.cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("web: trusted origin %q: %w", origin, err)
		}
	}
	f.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Reject(w, r, "cross_origin", http.StatusForbidden, "cross-origin request refused")
	}))
	if o.Registerer != nil {
		// A service with two fronts (a JSON API and HTML pages) shares the
		// counters: the second takes those the first registered.
		if err := o.Registerer.Register(f.rejected); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				return nil, fmt.Errorf("web: %w", err)
			}
			f.rejected = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if err := o.Registerer.Register(f.panics); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				return nil, fmt.Errorf("web: %w", err)
			}
			f.panics = are.ExistingCollector.(prometheus.Counter)
		}
	}
	return f, nil
}

// Public wraps a handler that needs no login (the login form itself, a
// public disclosure page, a provider callback with its own guard): every
// protection but authentication.
func (f *Front) Public(h http.Handler) http.Handler {
	h = f.cop.Handler(f.contentType(h))
	return f.base(h, false)
}

// Private wraps a handler that needs an authenticated principal: 401
// without one; the handler finds it with access.FromContext and asks
// access.Authorize before acting. Responses are not cached.
func (f *Front) Private(h http.Handler) http.Handler {
	h = f.cop.Handler(f.contentType(f.authenticate(h)))
	return f.base(h, true)
}

// base: panics caught, client address, headers, body limit, 5xx text
// hidden.
func (f *Front) base(h http.Handler, private bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(access.WithSource(r.Context(), ClientAddr(r, f.o.TrustedProxies)))
		f.headers(w.Header(), private)
		sw := &safeWriter{ResponseWriter: w, f: f, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				f.panics.Inc()
				f.log.Error("handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v))
				if !sw.wrote {
					sw.WriteHeader(http.StatusInternalServerError)
				}
			}
			sw.finish()
		}()
		if r.ContentLength > f.o.MaxBody {
			f.Reject(sw, r, "body_too_large", http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, f.o.MaxBody)
		h.ServeHTTP(sw, r)
	})
}

func (f *Front) headers(h http.Header, private bool) {
	h.Set("Content-Security-Policy", f.o.CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if f.o.HSTS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if private {
		h.Set("Cache-Control", "no-store")
	}
}

func (f *Front) contentType(h http.Handler) http.Handler {
	if !f.o.JSONOnly {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				f.Reject(w, r, "content_type", http.StatusUnsupportedMediaType, "Content-Type must be application/json")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (f *Front) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.o.Auth == nil {
			f.Reject(w, r, "unauthenticated", http.StatusUnauthorized, "authentication required")
			return
		}
		p, err := f.o.Auth.Authenticate(r, access.SourceFromContext(r.Context()))
		var le *limit.LockedError
		switch {
		case errors.As(err, &le):
			w.Header().Set("Retry-After", fmt.Sprint(int(le.Until.Sub(f.o.Now())/time.Second)+1))
			f.Reject(w, r, "locked", http.StatusTooManyRequests, "too many failed attempts; try again later")
			return
		case errors.Is(err, authn.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="cradlewatch"`)
			f.Reject(w, r, "unauthenticated", http.StatusUnauthorized, "authentication required")
			return
		case err != nil:
			Internal(w, r, f.log, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// Reject answers a refused request with status and a short public
// message, counts it by reason and logs it (rate-limited per reason).
func (f *Front) Reject(w http.ResponseWriter, r *http.Request, reason string, status int, msg string) {
	f.rejected.WithLabelValues(reason).Inc()
	f.logLimited(reason, "request refused", "reason", reason, "method", r.Method, "path", r.URL.Path,
		"source", access.SourceFromContext(r.Context()), "origin", r.Header.Get("Origin"))
	Error(w, status, msg)
}

// Forbidden answers 403 for an access.Authorize refusal: the reason goes
// to the log, the client sees "forbidden".
func (f *Front) Forbidden(w http.ResponseWriter, r *http.Request, err error) {
	f.rejected.WithLabelValues("forbidden").Inc()
	f.logLimited("forbidden", "request forbidden", "path", r.URL.Path, "source", access.SourceFromContext(r.Context()), "err", err)
	Error(w, http.StatusForbidden, "forbidden")
}

func (f *Front) logLimited(kind, msg string, args ...any) { f.throttle.Warn(kind, msg, args...) }

// Error writes a JSON error {"error": msg} with status.
func Error(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// ClientAddr is the client's IP address: the peer's, or, when the peer is
// a trusted proxy, the last X-Forwarded-For entry that is not a trusted
// proxy (entries further left are the client's own claims).
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
		addr = a
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
