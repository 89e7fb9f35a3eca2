package influxproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Limits of a request.
const (
	maxBodyBytes  = 1 << 20   // a POSTed form
	maxQueryBytes = 256 << 10 // the rewritten query, sent in the URL
	maxLoggedText = 500       // characters of a refused query in the log
)

// UserHeader is the header Grafana sets to the login of the user behind
// a query when [dataproxy] send_user_header = true.
const UserHeader = "X-Grafana-User"

// epochs are the precisions InfluxDB 1.x takes for epoch=.
var epochs = map[string]bool{"": true, "h": true, "m": true, "s": true, "ms": true, "u": true, "µ": true, "ns": true}

// relayed are the InfluxDB answer headers passed back to Grafana.
var relayed = []string{"Content-Type", "X-Influxdb-Version", "X-Influxdb-Build", "X-Influxdb-Error", "Request-Id"}

// Handler serves /query and /ping as InfluxDB 1.x does, and refuses every
// other path (/write above all).
func (p *Proxy) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/query", p.serveQuery)
	mux.HandleFunc("/ping", p.servePing)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusNotFound
		if strings.HasPrefix(r.URL.Path, "/write") || strings.HasPrefix(r.URL.Path, "/api/v2/write") {
			status = http.StatusForbidden
		}
		p.refused(w, r, status, "", refuse(ReasonPath, "%s %s is not served: the proxy only reads (/query, /ping)", r.Method, r.URL.Path), "")
	})
	return mux
}

func (p *Proxy) serveQuery(w http.ResponseWriter, r *http.Request) {
	start := p.clock()
	result := resultRefused
	defer func() {
		p.m.queries.WithLabelValues(result).Inc()
		p.m.seconds.WithLabelValues(result).Observe(p.clock().Sub(start).Seconds())
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		p.refused(w, r, http.StatusMethodNotAllowed, "", refuse(ReasonRequest, "method %s: use GET or POST", r.Method), "")
		return
	}
	if !p.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="cradlewatch-influxproxy"`)
		p.refused(w, r, http.StatusUnauthorized, "", refuse(ReasonAuth, "missing or wrong service credentials (the datasource's basic auth)"), "")
		return
	}
	login := r.Header.Get(UserHeader)
	if login == "" {
		p.refused(w, r, http.StatusForbidden, "", refuse(ReasonUser, "no %s header: set [dataproxy] send_user_header = true in Grafana; anonymous users are refused", UserHeader), "")
		return
	}
	region, err := p.resolver.Region(r.Context(), login)
	if err != nil {
		var refused *UserRefusedError
		detail := "login is not mapped to a region"
		switch {
		case errors.Is(err, ErrUnknownUser):
		case errors.As(err, &refused):
			detail = "login refused: " + refused.Reason
		default:
			detail = "cannot resolve the login's region: " + err.Error()
		}
		p.refused(w, r, http.StatusForbidden, login, refuse(ReasonUser, "%s", detail), "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		p.refused(w, r, http.StatusBadRequest, login, refuse(ReasonRequest, "cannot read the form: %v", err), "")
		return
	}
	q := r.Form.Get("q")
	if db := r.Form.Get("db"); db != "" && db != p.scope.Database() {
		p.refused(w, r, http.StatusForbidden, login, refuse(ReasonDatabase, "database %q: only %q can be read", db, p.scope.Database()), q)
		return
	}
	epoch := r.Form.Get("epoch")
	if !epochs[epoch] {
		p.refused(w, r, http.StatusBadRequest, login, refuse(ReasonRequest, "epoch %q: want h, m, s, ms, u or ns", epoch), q)
		return
	}
	params, err := decodeParams(r.Form.Get("params"))
	if err != nil {
		p.refused(w, r, http.StatusBadRequest, login, refuse(ReasonRequest, "params: %v", err), q)
		return
	}
	rewritten, err := p.scope.Rewrite(q, params, region)
	if err == nil && len(rewritten) > maxQueryBytes {
		err = refuse(ReasonRequest, "query longer than %d bytes", maxQueryBytes)
	}
	if err != nil {
		var ref *Refusal
		if !errors.As(err, &ref) {
			ref = refuse(ReasonUnverified, "%v", err)
		}
		status := http.StatusForbidden
		if ref.Reason == ReasonParse || ref.Reason == ReasonRequest {
			status = http.StatusBadRequest
		}
		p.refused(w, r, status, login, ref, q)
		return
	}
	result = p.forward(w, r, login, rewritten, epoch)
}

// forward sends the rewritten query to InfluxDB as a GET, which InfluxDB
// 1.x answers only for reading statements (one more lock on the door),
// and streams the answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, login, q, epoch string) string {
	form := url.Values{"db": {p.scope.Database()}, "q": {q}}
	if epoch != "" {
		form.Set("epoch", epoch)
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Upstream.Timeout)
	defer cancel()
	resp, err := p.upstream(ctx, http.MethodGet, "/query", form.Encode())
	if err != nil {
		// Logged when InfluxDB stops answering, not for every query then.
		if !p.upstreamDown.Swap(true) {
			p.log.Error("InfluxDB does not answer", "err", err)
		}
		writeError(w, http.StatusBadGateway, "InfluxDB behind the region proxy did not answer")
		return resultUnreachable
	}
	defer resp.Body.Close()
	if p.upstreamDown.Swap(false) {
		p.log.Info("InfluxDB answers again")
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// InfluxDB refused the proxy's own account: a configuration
		// error, not the user's; a 401 passed on would read as Grafana's.
		if p.once.first("upstream auth") {
			p.log.Error("InfluxDB refuses the proxy's account: check upstream.username/password or token", "status", resp.StatusCode)
		}
		writeError(w, http.StatusBadGateway, "InfluxDB refused the region proxy's account")
		return resultInfluxError
	}
	for _, h := range relayed {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		p.log.Debug("answer cut short", "user", login, "err", err)
	}
	p.log.Debug("query forwarded", "user", login, "status", resp.StatusCode)
	if resp.StatusCode/100 != 2 {
		return resultInfluxError
	}
	return resultOK
}

// servePing answers as InfluxDB's /ping, with InfluxDB's own answer: a
// Grafana "Save & test" or a load balancer sees whether the database
// behind the proxy is up. It carries no data, so it needs no login.
func (p *Proxy) servePing(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		p.refused(w, r, http.StatusMethodNotAllowed, "", refuse(ReasonRequest, "method %s: use GET or HEAD", r.Method), "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Upstream.Timeout)
	defer cancel()
	resp, err := p.upstream(ctx, http.MethodGet, "/ping", "")
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "InfluxDB behind the region proxy did not answer")
		return
	}
	resp.Body.Close()
	for _, h := range relayed {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
}

// refused counts a refusal, logs it the first time it is seen (the same
// user, reason and detail again is only counted) and answers with
// InfluxDB's error shape, which Grafana shows on the panel.
func (p *Proxy) refused(w http.ResponseWriter, r *http.Request, status int, login string, ref *Refusal, q string) {
	p.m.refusals.WithLabelValues(string(ref.Reason)).Inc()
	who := login
	if who == "" {
		who = "remote " + remoteIP(r)
	}
	if p.once.first(string(ref.Reason) + "\x00" + who + "\x00" + ref.Detail + "\x00" + q) {
		p.log.Warn("request refused", "reason", string(ref.Reason), "user", login, "remote", remoteIP(r),
			"detail", ref.Detail, "query", clip(q, maxLoggedText))
	}
	writeError(w, status, ref.Error())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// decodeParams reads InfluxDB's params= (a JSON object of values bound to
// $names) as InfluxDB does, numbers kept exact.
func decodeParams(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
