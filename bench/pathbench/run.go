package pathbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
)

// measured is a process whose CPU is sampled.
type measured struct {
	name   string
	pid    int
	before ProcSample
}

// sink is one pipeline's database and the processes that feed it.
type sink struct {
	name, db     string
	countQuery   string // readings of the load
	warmupQuery  string // readings of the warm-up device
	procs        []*measured
	result       PipelineResult
	done         bool
	metricsAddrs map[string]string // process name → host:port of /metrics
}

// harness holds what one Run started, for measuring and for stopping.
type harness struct {
	o        Options
	log      *slog.Logger
	broker   string // host:port
	influx   *influxd.Server
	infLog   *os.File
	sinks    []*sink
	shared   []*measured
	children []*child
}

// Run starts the processes, publishes the load, waits for both sinks and
// stops everything, also on error or when ctx ends. The error wraps
// ErrIncomplete when a sink's count differs from what was published; the
// Result then still holds what was measured.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.setDefaults(); err != nil {
		return Result{}, err
	}
	h := &harness{o: o, log: o.Logger.With("component", "pathbench")}
	defer h.stopAll()
	if err := h.start(ctx); err != nil {
		return Result{}, err
	}
	if err := h.warmup(ctx); err != nil {
		return Result{}, err
	}
	return h.measure(ctx)
}

// start builds and launches every process.
func (h *harness) start(ctx context.Context) error {
	o := h.o
	binDir := filepath.Join(o.Root, ".cache", "bin")
	for _, d := range []string{binDir, filepath.Join(o.WorkDir, "mosquitto"), filepath.Join(o.WorkDir, "spool")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("pathbench: %w", err)
		}
	}
	h.log.Info("building gateway and collector", "dest", binDir)
	gwBin, colBin, err := buildCommands(ctx, o.Root, binDir)
	if err != nil {
		return err
	}
	var tgBin string
	if o.runs(PipelineTelegraf) {
		if tgBin, err = ensureTelegraf(ctx, o.Root, binDir, h.log); err != nil {
			return err
		}
	}
	mqBin, err := mosquittoBinary()
	if err != nil {
		return err
	}
	infBin, err := influxd.Binary(ctx, o.Root)
	if err != nil {
		return fmt.Errorf("pathbench: %w", err)
	}

	// Broker.
	port, err := freePort()
	if err != nil {
		return err
	}
	h.broker = "127.0.0.1:" + strconv.Itoa(port)
	mqConf := filepath.Join(o.WorkDir, "mosquitto", "mosquitto.conf")
	if err := writeFiles(map[string]string{mqConf: mosquittoConf(port, filepath.Join(o.WorkDir, "mosquitto"),
		filepath.Join(o.WorkDir, "mosquitto", "mosquitto.log"), os.Geteuid() == 0)}); err != nil {
		return err
	}
	mq, err := h.launch("mosquitto", mqBin, "-c", mqConf)
	if err != nil {
		return err
	}
	if err := mq.waitListening(h.broker); err != nil {
		return err
	}
	h.shared = append(h.shared, &measured{name: "mosquitto", pid: mq.Pid()})

	// Database.
	infLog, err := os.Create(filepath.Join(o.WorkDir, "influxd.log"))
	if err != nil {
		return fmt.Errorf("pathbench: %w", err)
	}
	infDir := filepath.Join(o.WorkDir, "influxd")
	h.influx, err = influxd.Start(ctx, influxd.Options{Binary: infBin, DataDir: infDir, Logger: h.log, Stdout: infLog})
	if err != nil {
		infLog.Close()
		return fmt.Errorf("pathbench: %w", err)
	}
	h.infLog = infLog
	// The package does not tell the pid; its configuration file is on the
	// command line and unique to this run.
	infPid, err := FindPid(o.ProcRoot, filepath.Join(infDir, "influxd.conf"))
	if err != nil {
		return err
	}
	h.shared = append(h.shared, &measured{name: "influxd", pid: infPid})
	for _, db := range []string{DatabaseCradleWatch, DatabaseTelegraf} {
		if err := h.influx.CreateDatabase(ctx, db); err != nil {
			return fmt.Errorf("pathbench: %w", err)
		}
	}

	brokerURL := "tcp://" + h.broker
	if o.runs(PipelineCradleWatch) {
		if err := h.startCradleWatch(colBin, gwBin, brokerURL); err != nil {
			return err
		}
	}
	if o.runs(PipelineTelegraf) {
		conf := filepath.Join(o.WorkDir, "telegraf.conf")
		if err := writeFiles(map[string]string{conf: telegrafConf(brokerURL, h.influx.URL())}); err != nil {
			return err
		}
		tg, err := h.launch("telegraf", tgBin, "--config", conf)
		if err != nil {
			return err
		}
		h.sinks = append(h.sinks, &sink{
			name: PipelineTelegraf, db: DatabaseTelegraf,
			countQuery: `SELECT count("temperature"),count("humidity"),count("battery"),count("linkquality") FROM "mqtt_consumer" WHERE "topic" != '` +
				BaseTopic + "/" + WarmupDevice + `'`,
			warmupQuery: `SELECT count("temperature") FROM "mqtt_consumer" WHERE "topic" = '` + BaseTopic + "/" + WarmupDevice + `'`,
			procs:       []*measured{{name: "telegraf", pid: tg.Pid()}},
		})
	}
	return nil
}

// startCradleWatch writes the configurations and starts the collector,
// then the gateway, each once its HTTP endpoint answers.
func (h *harness) startCradleWatch(colBin, gwBin, brokerURL string) error {
	o := h.o
	colPort, err := freePort()
	if err != nil {
		return err
	}
	gwPort, err := freePort()
	if err != nil {
		return err
	}
	colHTTP, gwHTTP := "127.0.0.1:"+strconv.Itoa(colPort), "127.0.0.1:"+strconv.Itoa(gwPort)
	fac := filepath.Join(o.WorkDir, "facilities", "facility.yaml") // the collector's registry folder too
	colConf := filepath.Join(o.WorkDir, "collector.yaml")
	gwConf := filepath.Join(o.WorkDir, "gateway.yaml")
	if err := writeFiles(map[string]string{
		fac:     facilityYAML(o.Devices),
		colConf: collectorYAML(brokerURL, h.influx.URL(), colHTTP, filepath.Dir(fac)),
		gwConf:  gatewayYAML(fac, brokerURL, filepath.Join(o.WorkDir, "spool"), gwHTTP, o.Gateway),
	}); err != nil {
		return err
	}
	col, err := h.launch("collector", colBin, "-config", colConf)
	if err != nil {
		return err
	}
	if err := col.waitListening(colHTTP); err != nil {
		return err
	}
	gw, err := h.launch("gateway", gwBin, "run", "-config", gwConf)
	if err != nil {
		return err
	}
	if err := gw.waitListening(gwHTTP); err != nil {
		return err
	}
	h.sinks = append(h.sinks, &sink{
		name: PipelineCradleWatch, db: DatabaseCradleWatch,
		countQuery:   `SELECT count("value") FROM "temperature","humidity","battery","linkquality" WHERE "device" != '` + WarmupDevice + `'`,
		warmupQuery:  `SELECT count("value") FROM "temperature" WHERE "device" = '` + WarmupDevice + `'`,
		procs:        []*measured{{name: "gateway", pid: gw.Pid()}, {name: "collector", pid: col.Pid()}},
		metricsAddrs: map[string]string{"gateway": gwHTTP, "collector": colHTTP},
	})
	return nil
}

func (h *harness) launch(name, bin string, args ...string) (*child, error) {
	c, err := startChild(name, bin, h.o.Root, filepath.Join(h.o.WorkDir, name+".log"), args...)
	if err != nil {
		return nil, err
	}
	h.children = append(h.children, c)
	h.log.Info("started", "process", name, "pid", c.Pid())
	return c, nil
}

// warmup publishes the warm-up device's message until every sink stored
// it: proof that subscriptions exist and the paths work end to end.
func (h *harness) warmup(ctx context.Context) error {
	pub, err := DialPublisher(ctx, h.broker, publisherPrefix+"warmup", 1)
	if err != nil {
		return err
	}
	defer pub.Close()
	deadline := h.o.Clock().Add(warmupTimeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		if n%2 == 0 { // every other second: the first may precede a subscription
			if err := pub.Publish(ctx, BaseTopic+"/"+WarmupDevice, Payload(nil, 0, n)); err != nil {
				return err
			}
			if err := pub.Drain(ctx); err != nil {
				return err
			}
		}
		ready := true
		for _, s := range h.sinks {
			got, err := h.count(ctx, s.db, s.warmupQuery)
			if err != nil || got == 0 {
				ready = false
			}
		}
		if ready {
			h.log.Info("warm-up done: every pipeline stored the warm-up reading")
			return nil
		}
		if err := h.childrenAlive(); err != nil {
			return err
		}
		if h.o.Clock().After(deadline) {
			return fmt.Errorf("pathbench: warm-up: not every pipeline stored the warm-up reading within %v; see the logs in %s", warmupTimeout, h.o.WorkDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// measure publishes the load and waits for the sinks.
func (h *harness) measure(ctx context.Context) (Result, error) {
	o := h.o
	load := Load{Messages: o.Readings / ReadingsPerMessage, Devices: o.Devices, Publishers: o.Publishers, Window: o.Window}
	res := Result{Messages: int64(load.Messages), Readings: int64(load.Messages) * ReadingsPerMessage, Devices: o.Devices, Publishers: o.Publishers}
	all := append([]*measured(nil), h.shared...)
	for _, s := range h.sinks {
		all = append(all, s.procs...)
	}
	for _, m := range all {
		var err error
		if m.before, err = ReadProc(o.ProcRoot, m.pid); err != nil {
			return res, err
		}
	}
	h.log.Info("publishing", "messages", load.Messages, "readings", res.Readings, "devices", load.Devices, "publishers", load.Publishers)
	start := o.Clock()
	var err error
	res.Publish, err = load.Publish(ctx, h.broker, publisherPrefix, o.Clock)
	if err != nil {
		return res, err
	}
	h.log.Info("published", "seconds", res.Publish.Elapsed.Seconds(), "messages_per_second", float64(res.Publish.Messages)/res.Publish.Elapsed.Seconds())

	deadline := o.Clock().Add(o.Timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		pending := 0
		for _, s := range h.sinks {
			if s.done {
				continue
			}
			got, err := h.count(ctx, s.db, s.countQuery)
			if err != nil {
				h.log.Warn("count failed", "pipeline", s.name, "err", err)
			}
			s.result.Stored = got
			timedOut := o.Clock().After(deadline)
			if got >= res.Readings || timedOut {
				if err := h.finish(s, o.Clock().Sub(start), res.Readings); err != nil {
					return res, err
				}
				continue
			}
			pending++
		}
		if pending == 0 {
			break
		}
		if err := h.childrenAlive(); err != nil {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	res.Wall = o.Clock().Sub(start)
	for _, m := range h.shared {
		pr, err := sampleSince(o.ProcRoot, m)
		if err != nil {
			return res, err
		}
		res.Shared = append(res.Shared, pr)
	}
	// A final recount: a count above the target (duplicates that arrived
	// late) or below it (timeout) fails the run.
	var errs []error
	for _, s := range h.sinks {
		if got, err := h.count(ctx, s.db, s.countQuery); err == nil {
			s.result.Stored = got
		}
		s.result.Complete = s.result.Stored == res.Readings
		if !s.result.Complete {
			errs = append(errs, fmt.Errorf("%w: %s stored %d readings, %d were published", ErrIncomplete, s.name, s.result.Stored, res.Readings))
		}
		res.Pipelines = append(res.Pipelines, s.result)
		h.saveMetrics(ctx, s)
	}
	return res, errors.Join(errs...)
}

// finish records a sink's completion and samples its processes.
func (h *harness) finish(s *sink, wall time.Duration, expected int64) error {
	s.done = true
	s.result.Name, s.result.Expected, s.result.Wall = s.name, expected, wall
	for _, m := range s.procs {
		pr, err := sampleSince(h.o.ProcRoot, m)
		if err != nil {
			return err
		}
		s.result.Procs = append(s.result.Procs, pr)
	}
	h.log.Info("pipeline finished", "pipeline", s.name, "stored", s.result.Stored, "expected", expected, "seconds", wall.Seconds())
	return nil
}

func sampleSince(procRoot string, m *measured) (ProcResult, error) {
	now, err := ReadProc(procRoot, m.pid)
	if err != nil {
		return ProcResult{}, err
	}
	return ProcResult{Name: m.name, Pid: m.pid, CPU: now.CPU - m.before.CPU, PeakRSS: now.PeakRSS}, nil
}

// count sums every count column of an InfluxQL answer.
func (h *harness) count(ctx context.Context, db, q string) (int64, error) {
	return h.influx.Count(ctx, db, q)
}

// saveMetrics keeps the pipeline's Prometheus metrics next to its logs,
// to look for drops, retries and rejections after the run.
func (h *harness) saveMetrics(ctx context.Context, s *sink) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for name, addr := range s.metricsAddrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			h.log.Warn("could not read metrics", "process", name, "err", err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		_ = os.WriteFile(filepath.Join(h.o.WorkDir, name+".metrics"), body, 0o600)
	}
}

func (h *harness) childrenAlive() error {
	for _, c := range h.children {
		if err := c.alive(); err != nil {
			return err
		}
	}
	return nil
}

// stopAll stops the pipelines first (so they leave the broker and the
// database cleanly), then influxd and the broker.
func (h *harness) stopAll() {
	for i := len(h.children) - 1; i >= 0; i-- {
		c := h.children[i]
		if c.name == "mosquitto" {
			continue
		}
		if !c.stop() {
			h.log.Warn("process ignored SIGTERM and was killed", "process", c.name)
		}
	}
	if h.influx != nil {
		if err := h.influx.Stop(); err != nil {
			h.log.Warn("influxd stop", "err", err)
		}
	}
	if h.infLog != nil {
		h.infLog.Close()
	}
	for _, c := range h.children {
		if c.name == "mosquitto" {
			c.stop()
		}
	}
	h.children = nil
}
