// Package callback guards the endpoints SMS providers call back (Aliyun's
// SmsUp push, Tencent's reply callback). Neither provider signs its
// callbacks or sends a header of our choosing: both only let us configure
// the URL. So each provider's callback URL carries a secret of its own in
// its path (https://front.example/api/v1/sms/aliyun/<secret>), checked in
// constant time; a header (X-CW-Callback-Secret) is accepted too, for a
// proxy or a provider that can send one. An optional allowlist of source
// networks (the provider's published callback addresses) refuses the rest.
// Wrong secrets are limited per source, wrong acknowledgement codes per
// phone number and per source; every lockout is counted and logged once.
package callback

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Header is the request header that may carry the secret.
const Header = "X-CW-Callback-Secret"

// Key kinds of the guard's limiter.
const (
	KeySecretSource = "secret_source" // wrong or missing secrets, per source address
	KeyPhone        = "phone"         // wrong acknowledgement codes, per phone number (pseudonymised)
	KeyCodeSource   = "code_source"   // wrong acknowledgement codes, per source address
)

// DefaultRules: 10 wrong secrets in 15 minutes lock a source for an
// hour; 5 wrong codes in 24 hours lock a number for 24 hours; 200 wrong
// codes in an hour lock a source (the provider's servers included) for an
// hour. docs/security.md gives the odds these leave a guesser.
var DefaultRules = map[string]limit.Rule{
	KeySecretSource: {Max: 10, Window: 15 * time.Minute, Lockout: time.Hour},
	KeyPhone:        {Max: 5, Window: 24 * time.Hour, Lockout: 24 * time.Hour},
	KeyCodeSource:   {Max: 200, Window: time.Hour, Lockout: time.Hour},
}

// Options configure a Guard.
type Options struct {
	Provider string // "aliyun", "tencent": the metrics' label and the limiter's name
	Secret   []byte // at least secret.MinLength bytes, no placeholder
	// PathValue names the path wildcard that carries the secret in the
	// handler's pattern: "POST /api/v1/sms/aliyun/{secret}" (default "secret").
	PathValue      string
	Allow          []netip.Prefix // empty: any source
	TrustedProxies []netip.Prefix
	Rules          map[string]limit.Rule // default DefaultRules
	Backend        limit.Backend         // nil: memory of this process
	Phones         *audit.PhoneKeyer     // pseudonymises numbers in the limiter's keys
	Now            func() time.Time
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Guard checks one provider's callbacks.
type Guard struct {
	o        Options
	sum      [sha256.Size]byte
	lim      *limit.Limiter
	log      *slog.Logger
	throttle *web.LogThrottle
	result   *prometheus.CounterVec
}

// ErrWrongCode is returned by TryCode when the code did not acknowledge.
var ErrWrongCode = errors.New("callback: code did not acknowledge")

// New builds a guard; a missing or placeholder secret stops it.
func New(o Options) (*Guard, error) {
	if o.Provider == "" {
		return nil, errors.New("callback: provider name missing")
	}
	if err := secret.Check("notify.callbacks."+o.Provider+".secret", o.Secret); err != nil {
		return nil, err
	}
	if o.Phones == nil {
		return nil, errors.New("callback: a phone keyer is needed (numbers are never stored in clear)")
	}
	if o.PathValue == "" {
		o.PathValue = "secret"
	}
	if o.Rules == nil {
		o.Rules = DefaultRules
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{o: o, sum: sha256.Sum256(o.Secret), log: o.Logger.With("component", "callback", "provider", o.Provider),
		result: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_callbacks_total",
			ConstLabels: prometheus.Labels{"provider": o.Provider},
			Help:        "Provider callbacks by result (accepted, bad_secret, not_allowed, locked)."}, []string{"result"}),
	}
	g.throttle = web.NewLogThrottle(g.log, time.Minute, o.Now)
	if o.Registerer != nil {
		if err := o.Registerer.Register(g.result); err != nil {
			return nil, fmt.Errorf("callback: %w", err)
		}
	}
	var err error
	g.lim, err = limit.New(limit.Options{Name: "callback_" + o.Provider, Rules: o.Rules, Backend: o.Backend, Now: o.Now,
		Logger: o.Logger, Registerer: o.Registerer})
	return g, err
}

// Wrap lets a callback through to h only from an allowed source that is
// not locked out and carries the provider's secret. Refusals answer 403
// with no detail.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		src := web.ClientAddr(r, g.o.TrustedProxies)
		r = r.WithContext(access.WithSource(ctx, src))
		if !g.allowed(src) {
			g.refuse(w, "not_allowed", "callback from a source outside the allowlist", src)
			return
		}
		key := limit.Key{Kind: KeySecretSource, Value: src, Display: src}
		if err := g.lim.Check(ctx, key); err != nil {
			g.result.WithLabelValues("locked").Inc()
			web.Error(w, http.StatusTooManyRequests, "too many failed attempts")
			return
		}
		presented := r.PathValue(g.o.PathValue)
		if presented == "" {
			presented = r.Header.Get(Header)
		}
		got := sha256.Sum256([]byte(presented))
		if presented == "" || subtle.ConstantTimeCompare(got[:], g.sum[:]) != 1 {
			if err := g.lim.Fail(ctx, key); err != nil {
				g.log.Error("bad callback secret not counted", "err", err)
			}
			g.refuse(w, "bad_secret", "callback with a wrong or missing secret", src)
			return
		}
		g.result.WithLabelValues("accepted").Inc()
		h.ServeHTTP(w, r)
	})
}

func (g *Guard) allowed(src string) bool {
	if len(g.o.Allow) == 0 {
		return true
	}
	a, err := netip.ParseAddr(src)
	if err != nil {
		return false
	}
	for _, p := range g.o.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refuse counts, logs (the first at once, then at most once a minute per
// kind) and answers 403.
func (g *Guard) refuse(w http.ResponseWriter, result, msg, src string) {
	g.result.WithLabelValues(result).Inc()
	g.throttle.Warn(result, msg, "source", src)
	web.Error(w, http.StatusForbidden, "forbidden")
}

// TryCode runs try (which looks the code up among those sent to phone and
// acknowledges on a match) unless the number or the source is locked
// out. A false try counts a failure against both. It returns nil, a
// *limit.LockedError, or ErrWrongCode. The number is pseudonymised before
// it is stored or logged.
func (g *Guard) TryCode(ctx context.Context, phone string, try func() bool) error {
	src := access.SourceFromContext(ctx)
	keys := []limit.Key{
		{Kind: KeyPhone, Value: g.o.Phones.Key(phone), Display: audit.MaskPhone(phone)},
		{Kind: KeyCodeSource, Value: src, Display: src},
	}
	if err := g.lim.Check(ctx, keys...); err != nil {
		return err
	}
	if try() {
		return nil
	}
	if err := g.lim.Fail(ctx, keys...); err != nil {
		g.log.Error("wrong code not counted", "err", err)
	}
	return ErrWrongCode
}
