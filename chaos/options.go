package chaos

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Options configure a run. Zero values take the defaults named.
type Options struct {
	// Root is the repository root: cmd/ is built from it and deploy/ read.
	Root string
	// Dir holds everything the run writes (configs, logs, spools, data);
	// "" makes a temporary folder, removed at the end unless Keep.
	Dir  string
	Keep bool
	// Duration is how long the load and the faults run (default 3m),
	// Seed chooses the fault schedule and the incidents.
	Duration time.Duration
	Seed     int64
	// Facilities is how many facilities carry load (default 4, at least 4:
	// each layout with an ordinary and a power-cut gateway).
	Facilities int
	// Devices is how many CO2 sensors each facility has (default 20).
	Devices int
	// Rate is the readings published per second over all facilities
	// (default 500).
	Rate int
	// Mosquitto is the mosquitto executable ($CW_MOSQUITTO, Debian's path,
	// PATH), Influxd the influxd one (internal/influxd.Binary).
	Mosquitto, Influxd string
	// Bin is where the binaries of cmd/ are built; "" is <Dir>/bin.
	Bin string
	// Out receives progress lines and the report; Logger the harness's own
	// log (nil: discarded).
	Out    io.Writer
	Logger *slog.Logger
	// RestartSec is the supervisor's pause before restarting a service
	// that exited (systemd's RestartSec); default 2s.
	RestartSec time.Duration
}

// Defaults of Options.
const (
	DefaultDuration   = 3 * time.Minute
	DefaultFacilities = 4
	DefaultDevices    = 20
	DefaultRate       = 500
	DefaultRestartSec = 2 * time.Second
	// maxSeq bounds a device's sequence number: the reading's value, in
	// the CO2 kind's physical range (model: 0 to 50,000 ppm).
	maxSeq = 49_000
)

func (o *Options) setDefaults() error {
	if o.Root == "" {
		return errors.New("chaos: Options.Root (the repository root) is required")
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Facilities == 0 {
		o.Facilities = DefaultFacilities
	}
	if o.Devices == 0 {
		o.Devices = DefaultDevices
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.RestartSec == 0 {
		o.RestartSec = DefaultRestartSec
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Duration < time.Minute:
		return fmt.Errorf("chaos: duration %v: at least 1m, to fit every kind of fault", o.Duration)
	case o.Facilities < 4:
		return fmt.Errorf("chaos: %d facilities: at least 4 (both layouts, ordinary and power-cut gateways)", o.Facilities)
	case o.Devices < 2:
		return fmt.Errorf("chaos: %d devices per facility: at least 2 (timed and untimed)", o.Devices)
	case o.Rate < o.Facilities:
		return fmt.Errorf("chaos: rate %d readings/s: at least one per facility and second", o.Rate)
	}
	// Each reading's value is its device's sequence number.
	perDevice := float64(o.Rate) * o.Duration.Seconds() / float64(o.Facilities*o.Devices)
	if perDevice > maxSeq {
		return fmt.Errorf("chaos: %d readings/s for %v make %.0f readings per device, more than %d: add devices", o.Rate, o.Duration, perDevice, maxSeq)
	}
	return nil
}
