// Package probe checks cameras that publish no heartbeat by asking them over
// RTSP, the protocol every IP camera and NVR speaks on port 554. It sends
// OPTIONS, which needs no credentials and starts no stream: any RTSP answer,
// even 401 Unauthorized, proves the camera is up. Video never flows.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/model"
)

// Family is the Source of the probe's observations.
const Family = "rtsp"

// Defaults of Options.
const (
	DefaultInterval = time.Minute
	DefaultTimeout  = 5 * time.Second
)

// Target is one camera to probe.
type Target struct {
	Address  string // the camera's device address in the facility file
	HostPort string // "192.168.1.64:554"
}

// Options carry the targets and dependencies of a Prober.
type Options struct {
	Targets  []Target
	Interval time.Duration // between rounds; 0 means DefaultInterval
	Timeout  time.Duration // per probe, connect to answer; 0 means DefaultTimeout
	// Now is the clock for observation times and latency; nil means time.Now.
	Now        func() time.Time
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: a private registry
	// Dial opens the connection; nil means a net.Dialer. Tests may pass an
	// in-memory pipe.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Emit receives KindCameraOnline 1/0 for every probe and
	// KindCameraLatency (seconds) for reachable cameras. It is called from
	// the prober's goroutine and must not block for long.
	Emit func(decode.Observation)
}

// Prober probes its targets periodically.
type Prober struct {
	opts    Options
	probes  *prometheus.CounterVec
	latency prometheus.Histogram
}

// ErrNotRTSP is returned by Probe when the peer answered, but not in RTSP.
var ErrNotRTSP = errors.New("probe: answer is not RTSP")

// New checks opts and registers the metrics.
func New(opts Options) (*Prober, error) {
	if opts.Emit == nil {
		return nil, errors.New("probe: Options.Emit is nil")
	}
	for i, t := range opts.Targets {
		if t.Address == "" {
			return nil, fmt.Errorf("probe: targets[%d].address: empty", i)
		}
		if _, _, err := net.SplitHostPort(t.HostPort); err != nil {
			return nil, fmt.Errorf("probe: targets[%d].host_port %q: %w", i, t.HostPort, err)
		}
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("component", "probe")
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	p := &Prober{
		opts: opts,
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_camera_probes_total",
			Help: "RTSP probes of cameras, by result (reachable, unreachable, not_rtsp).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cw_gateway_camera_probe_duration_seconds",
			Help:    "Round trip of RTSP OPTIONS to reachable cameras.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	for _, c := range []prometheus.Collector{p.probes, p.latency} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("probe: register metrics: %w", err)
		}
	}
	return p, nil
}

// Run probes every target at once, then every Interval, until ctx ends.
// Targets of a round are probed concurrently, so one hanging camera does
// not delay the others; a round waits for all its probes (each bounded by
// Timeout) before the next can start.
func (p *Prober) Run(ctx context.Context) error {
	tick := time.NewTicker(p.opts.Interval)
	defer tick.Stop()
	for {
		p.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (p *Prober) round(ctx context.Context) {
	var wg sync.WaitGroup
	results := make([]decode.Observation, 0, 2*len(p.opts.Targets))
	var mu sync.Mutex
	for _, t := range p.opts.Targets {
		wg.Go(func() {
			at := p.opts.Now()
			lat, err := p.Probe(ctx, t)
			if ctx.Err() != nil {
				return // shutting down: not the camera's fault
			}
			online := decode.Observation{Source: Family, Address: t.Address, Kind: model.KindCameraOnline, Time: at, Value: 1}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				online.Value = 0
				results = append(results, online)
				result := "unreachable"
				if errors.Is(err, ErrNotRTSP) {
					result = "not_rtsp"
				}
				p.probes.WithLabelValues(result).Inc()
				p.opts.Logger.Debug("camera unreachable", "camera", t.Address, "err", err)
				return
			}
			p.probes.WithLabelValues("reachable").Inc()
			p.latency.Observe(lat.Seconds())
			results = append(results, online, decode.Observation{
				Source: Family, Address: t.Address, Kind: model.KindCameraLatency, Time: at, Value: lat.Seconds(),
			})
		})
	}
	wg.Wait()
	for _, o := range results {
		p.opts.Emit(o)
	}
}

// Probe sends one RTSP OPTIONS to t and returns the round trip. Any answer
// whose status line starts with "RTSP/1.0 " counts: 401 means the camera
// is alive and wants credentials, which the probe never sends.
func (p *Prober) Probe(ctx context.Context, t Target) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	start := p.opts.Now()
	conn, err := p.opts.Dial(ctx, "tcp", t.HostPort)
	if err != nil {
		return 0, fmt.Errorf("probe %s: dial: %w", t.Address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing on cancellation unblocks a read from a camera that hangs,
	// also for connections without deadline support.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := "OPTIONS rtsp://" + t.HostPort + "/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, fmt.Errorf("probe %s: write: %w", t.Address, err)
	}
	const prefix = "RTSP/1.0 "
	buf := make([]byte, len(prefix))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return 0, fmt.Errorf("probe %s: read: %w", t.Address, err)
	}
	if string(buf) != prefix {
		return 0, fmt.Errorf("probe %s: %w: starts %q", t.Address, ErrNotRTSP, buf)
	}
	return p.opts.Now().Sub(start), nil
}
