// Command opsproxy runs beside a CradleWatch service (a Kubernetes
// sidecar, a compose service in its network namespace) and shows its
// /metrics, /healthz and /readyz beyond the host, nothing else: the
// service's own operational listener stays on loopback, with pprof. See
// internal/opsproxy and docs/deploy.md.
//
//	opsproxy -listen :9112 -target 127.0.0.1:9102
package main

import (
	"flag"
	"os"

	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/internal/opsproxy"
)

func main() {
	listen := flag.String("listen", ":9112", "where the proxy listens (the pod's address)")
	target := flag.String("target", "127.0.0.1:9102", "the service's loopback operational listener")
	flag.Parse()
	log, err := obs.NewLogger(os.Stderr, "json", "info")
	if err != nil {
		cli.Exit("opsproxy", err, true)
	}
	p, err := opsproxy.New(opsproxy.Options{Listen: *listen, Target: *target, Logger: log})
	if err != nil {
		cli.Exit("opsproxy", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	log.Info("opsproxy serving", "listen", p.Addr(), "target", *target)
	cli.Exit("opsproxy", p.Run(ctx), false)
}
