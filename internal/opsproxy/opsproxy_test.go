package opsproxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOnlyTheSafePathsPass: behind the proxy, /metrics, /healthz and
// /readyz of the service's loopback listener answer; pprof, anything else
// and any method but GET and HEAD are refused and counted; a target off
// loopback is refused at start.
func TestOnlyTheSafePathsPass(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_test_total", Help: "t"}))
	svc := &obs.Server{Addr: "127.0.0.1:0", Gatherer: reg, Ready: &obs.Readiness{}}
	if err := svc.Listen(); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Listen: "127.0.0.1:0", Target: svc.ListenAddr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { svc.Run(ctx); done <- struct{}{} }()
	go func() { p.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	do := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.Addr()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/metrics"); code != 200 || !strings.Contains(body, "cw_test_total") {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := do("GET", path); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile", "/metrics/../debug/pprof/", "/", "/api/v1/alerts"} {
		if code, _ := do("GET", path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if code, _ := do("POST", "/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", code)
	}
	_, own := do("GET", OwnMetricsPath)
	for _, want := range []string{`cw_opsproxy_refused_total{reason="path"}`, `cw_opsproxy_refused_total{reason="method"} 1`} {
		if !strings.Contains(own, want) {
			t.Errorf("own metrics lack %s:\n%s", want, own)
		}
	}
	for _, bad := range []string{"0.0.0.0:9102", ":9102", "10.0.0.5:9102"} {
		if _, err := New(Options{Listen: "127.0.0.1:0", Target: bad}); err == nil {
			t.Errorf("target %s accepted", bad)
		}
	}
}
