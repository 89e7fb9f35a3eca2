package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cradlewatch/cradlewatch/bench/pathbench"
	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
)

// Chaos is one run of the chaos suite.
type Chaos struct {
	opts Options
}

// New checks the options. Nothing starts before Run.
func New(o Options) (*Chaos, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	return &Chaos{opts: o}, nil
}

// run is the state of one Run: the composition root, with its cleanup
// stack.
type run struct {
	opts        Options
	dir         string
	registryDir string
	log         *slog.Logger
	out         io.Writer
	bin         binaries

	facilities     []*facility
	hostile        hostile
	influx         *influxd.Server
	centre         *centre
	collectors     []*proc
	collectorHTTP  []string
	alerting       []*proc
	alertHTTP      []string
	provider       *fakealiyun.Server
	secrets        struct{ ctl, phone string }
	procs          []*proc // every supervised process, for RSS and the report
	hostileResults []*hostileResult

	cleanup []func()
	start   time.Time // when the counted load began
	journal journal   // what the faults and incidents did, when

	rssMu    sync.Mutex
	extraRSS map[string]int64 // processes not supervised here (influxd, the centre's mosquitto)
}

// Run starts everything, runs the load and the schedule for Duration,
// drains, accounts, stops everything and returns the report. It returns an
// error when the run could not be made (a part failed to start, ctx was
// cancelled); a run that found losses returns a report whose Failed is
// true and no error.
func (c *Chaos) Run(ctx context.Context) (*Report, error) {
	o := c.opts
	r, err := newRun(ctx, o)
	defer r.close()
	if err != nil {
		return nil, err
	}
	r.facilities, r.hostile = planFacilities(o.Facilities, o.Devices)
	sched := Plan(o.Seed, o.Duration, r.targets())
	for _, f := range sched.Faults {
		if f.Kind == PowerCut {
			fac := r.facilityByID(f.Target)
			fac.cuts = append(fac.cuts, f.Variant)
		}
	}
	r.printf("chaos: schedule (%d faults, %d incidents):\n", len(sched.Faults), len(sched.Incidents))
	for _, f := range sched.Faults {
		r.printf("  %s\n", f)
	}
	for _, i := range sched.Incidents {
		r.printf("  %7.1fs incident %-5s %s for %.0fs\n", i.At.Seconds(), i.Kind, i.Facility, i.For.Seconds())
	}
	if err := r.setUp(ctx); err != nil {
		return nil, err
	}
	if err := r.execute(ctx, sched); err != nil {
		return nil, err
	}
	return r.account(ctx, sched)
}

// newRun makes the run's folder and builds the binaries; close releases
// what the run acquired, also when newRun fails.
func newRun(ctx context.Context, o Options) (r *run, err error) {
	r = &run{opts: o, log: o.Logger, out: o.Out, extraRSS: map[string]int64{}}
	if r.dir = o.Dir; r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "cradlewatch-chaos-"); err != nil {
			return r, err
		}
		if !o.Keep {
			r.defer_(func() { os.RemoveAll(r.dir) })
		}
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return r, err
	}
	r.printf("chaos: seed %d, %v, %d facilities x %d sensors, %d readings/s; folder %s\n", o.Seed, o.Duration, o.Facilities, o.Devices, o.Rate, r.dir)
	bin := o.Bin
	if bin == "" {
		bin = filepath.Join(r.dir, "bin")
	}
	r.bin, err = build(ctx, o, bin)
	return r, err
}

// close runs the cleanup stack in reverse: everything the run started
// stops. Idempotent.
func (r *run) close() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}

// defer_ pushes a cleanup; the stack runs in reverse when Run returns.
func (r *run) defer_(f func()) { r.cleanup = append(r.cleanup, f) }

func (r *run) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

// newProc makes a supervised process logging to <dir>/logs/<name>.log.
func (r *run) newProc(name, bin string, args ...string) *proc {
	p := newProc(name, bin, filepath.Join(mkdir(filepath.Join(r.dir, "logs")), name+".log"), r.opts.RestartSec, r.log, args...)
	r.procs = append(r.procs, p)
	r.defer_(p.Close)
	return p
}

// startAndWait starts p and waits until it listens on addrs.
func (r *run) startAndWait(ctx context.Context, p *proc, addrs ...string) error {
	if err := p.Start(); err != nil {
		return err
	}
	if err := waitListening(ctx, p.name, 30*time.Second, addrs...); err != nil {
		return fmt.Errorf("%w; log %s:\n%s", err, p.logPath, tail(p.logPath, 20))
	}
	return nil
}

// setUp starts every part, central parts first, and warms the load up
// until every facility's readings reach InfluxDB.
func (r *run) setUp(ctx context.Context) error {
	r.registryDir = mkdir(filepath.Join(r.dir, "facilities"))
	hours := closedHours(time.Now())
	for _, f := range r.facilities {
		if err := os.WriteFile(filepath.Join(r.registryDir, f.ID+".yaml"), []byte(f.facilityYAML(hours)), 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(r.registryDir, r.hostile.ID+".yaml"), []byte(r.hostile.facilityYAML(hours)), 0o600); err != nil {
		return err
	}

	// influxd.
	logf, err := os.Create(filepath.Join(mkdir(filepath.Join(r.dir, "logs")), "influxd.log"))
	if err != nil {
		return err
	}
	r.defer_(func() { logf.Close() })
	if r.influx, err = influxd.Start(ctx, influxd.Options{Binary: r.bin.influxd, DataDir: filepath.Join(r.dir, "influxd"), Logger: r.log, Stdout: logf}); err != nil {
		return err
	}
	r.defer_(func() { _ = r.influx.Stop() })
	if err := r.influx.CreateDatabase(ctx, "cradlewatch"); err != nil {
		return err
	}

	// The centre's broker, then the services on it.
	if err := r.startCentre(ctx); err != nil {
		return err
	}
	r.hostile.Password = r.centre.passwords[r.hostile.Gateway]
	if err := r.writeSecrets(); err != nil {
		return err
	}
	if r.provider, err = fakealiyun.Start(); err != nil {
		return err
	}
	r.defer_(func() { r.provider.Close() })
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	for n := 1; n <= 2; n++ {
		addr := "127.0.0.1:" + strconv.Itoa(ports[n-1])
		conf := filepath.Join(r.dir, fmt.Sprintf("collector-%d.yaml", n))
		if err := os.WriteFile(conf, []byte(r.collectorYAML(n, addr)), 0o600); err != nil {
			return err
		}
		p := r.newProc(fmt.Sprintf("collector-%d", n), r.bin.collector, "-config", conf)
		r.collectors, r.collectorHTTP = append(r.collectors, p), append(r.collectorHTTP, addr)
		if err := p.Start(); err != nil {
			return err
		}
		if err := waitReady(ctx, p.name, addr, 60*time.Second); err != nil {
			return err
		}
	}
	for i := range shards {
		addr := "127.0.0.1:" + strconv.Itoa(ports[2+i])
		conf := filepath.Join(r.dir, fmt.Sprintf("alerting-%d.yaml", i))
		if err := os.WriteFile(conf, []byte(r.alertingYAML(i, addr)), 0o600); err != nil {
			return err
		}
		p := r.newProc(fmt.Sprintf("alerting-%d", i), r.bin.alerting, "-config", conf)
		r.alerting, r.alertHTTP = append(r.alerting, p), append(r.alertHTTP, addr)
		if err := p.Start(); err != nil {
			return err
		}
		if err := waitReady(ctx, p.name, addr, 60*time.Second); err != nil {
			return fmt.Errorf("%w; log:\n%s", err, tail(p.logPath, 30))
		}
	}

	// The facilities: local broker, uplink path, gateway, sensors.
	for _, f := range r.facilities {
		if err := r.startFacility(ctx, f); err != nil {
			return err
		}
	}
	r.startSampler()
	return r.warmUp(ctx)
}

// writeSecrets writes the control bus secret and the phone pseudonym key
// the alerting instances share with the console.
func (r *run) writeSecrets() error {
	dir := mkdir(filepath.Join(r.dir, "secrets"))
	for _, s := range []struct {
		path *string
		name string
	}{{&r.secrets.ctl, "ctl.key"}, {&r.secrets.phone, "phone.key"}} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		*s.path = filepath.Join(dir, s.name)
		if err := os.WriteFile(*s.path, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// targets describes the facilities to Plan.
func (r *run) targets() []target {
	out := make([]target, len(r.facilities))
	for i, f := range r.facilities {
		out[i] = target{ID: f.ID, Layout: f.Layout, PowerCut: f.PowerCut, Tmpfs: f.Tmpfs, Shard: f.Shard}
	}
	return out
}

// facilityByID finds a facility of the run.
func (r *run) facilityByID(id string) *facility {
	for _, f := range r.facilities {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// startSampler reads the peak RSS of every process every two seconds
// until the run ends.
func (r *run) startSampler() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			r.sampleAll()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	r.defer_(func() { close(stop); <-done })
}

func (r *run) sampleAll() {
	for _, p := range r.procs {
		p.sample()
	}
	// Processes started by others: influxd (internal/influxd), found by
	// its configuration file, and the centre's Mosquitto, the child of
	// the log watcher.
	pids := map[string]int{}
	if pid, err := pathbench.FindPid("/proc", filepath.Join(r.dir, "influxd", "influxd.conf")); err == nil {
		pids["influxd"] = pid
	}
	if pid := childOf(r.centre.proc.Pid()); pid != 0 {
		pids["centre-mosquitto"] = pid
	}
	for name, pid := range pids {
		if hwm, err := peakRSS(pid); err == nil {
			r.rssMu.Lock()
			r.extraRSS[name] = max(r.extraRSS[name], hwm)
			r.rssMu.Unlock()
		}
	}
}

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(b), n)
}
