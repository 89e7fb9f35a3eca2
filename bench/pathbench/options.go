package pathbench

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultReadings   = 1_000_000
	DefaultDevices    = 1000
	DefaultPublishers = 4
	DefaultWindow     = 1000
	// pollInterval is how often the sinks' counts are read while waiting.
	// It is the resolution of the wall times.
	pollInterval = 500 * time.Millisecond
	// warmupTimeout bounds the wait for the warm-up message in both
	// databases (process start-up, subscriptions, first writes).
	warmupTimeout = 90 * time.Second
)

// Pipeline names.
const (
	PipelineCradleWatch = "cradlewatch"
	PipelineTelegraf    = "telegraf"
)

// Options configure Run.
type Options struct {
	// Root is the repository root (go.mod of the module); binaries go to
	// Root/.cache/bin.
	Root string
	// WorkDir holds configs, logs, the spool and the databases of the run.
	WorkDir string
	// Readings to publish, ReadingsPerMessage per message; rounded down
	// to whole messages.
	Readings int
	// Devices is the number of Zigbee2MQTT friendly names.
	Devices int
	// Publishers is the number of MQTT connections of the load generator.
	Publishers int
	// Window is each publisher's number of unacknowledged messages.
	Window int
	// Timeout bounds the wait for the sinks after the last publish; zero
	// means 60 s plus 1 s per 5,000 readings.
	Timeout time.Duration
	// Pipelines to run, among PipelineCradleWatch and PipelineTelegraf;
	// empty means both.
	Pipelines []string
	// Gateway overrides gateway settings; the zero value is not valid, use
	// DefaultTuning (what setDefaults fills in when Gateway is zero).
	Gateway GatewayTuning
	// ProcRoot is where /proc is mounted; empty means "/proc".
	ProcRoot string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Clock gives wall time for the measurements; nil means time.Now.
	Clock func() time.Time
}

// ErrIncomplete says a sink did not store every published reading in time,
// or stored more (merged or duplicated points show as a mismatch).
var ErrIncomplete = errors.New("pathbench: a sink does not hold exactly the published readings")

func (o *Options) setDefaults() error {
	if o.Root == "" || o.WorkDir == "" {
		return errors.New("pathbench: Root and WorkDir are required")
	}
	if o.Readings == 0 {
		o.Readings = DefaultReadings
	}
	if o.Devices == 0 {
		o.Devices = DefaultDevices
	}
	if o.Publishers == 0 {
		o.Publishers = DefaultPublishers
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Readings < ReadingsPerMessage || o.Devices < 1 || o.Publishers < 1 || o.Publishers > o.Devices || o.Window < 1 || o.Window > 65535 {
		return fmt.Errorf("pathbench: options out of range: readings %d (≥ %d), devices %d, publishers %d (1..devices), window %d (1..65535)",
			o.Readings, ReadingsPerMessage, o.Devices, o.Publishers, o.Window)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute + time.Duration(o.Readings/5000)*time.Second
	}
	if len(o.Pipelines) == 0 {
		o.Pipelines = []string{PipelineCradleWatch, PipelineTelegraf}
	}
	for _, p := range o.Pipelines {
		if p != PipelineCradleWatch && p != PipelineTelegraf {
			return fmt.Errorf("pathbench: unknown pipeline %q (want %s or %s)", p, PipelineCradleWatch, PipelineTelegraf)
		}
	}
	if o.Gateway == (GatewayTuning{}) {
		o.Gateway = DefaultTuning
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}

func (o *Options) runs(p string) bool {
	for _, q := range o.Pipelines {
		if q == p {
			return true
		}
	}
	return false
}
