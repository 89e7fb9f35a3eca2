package model

import (
	"encoding/json"
	"fmt"
)

// GatewayState is whether a gateway is connected to the centre.
type GatewayState string

const (
	GatewayOnline  GatewayState = "online"
	GatewayOffline GatewayState = "offline"
)

// Status is the gateway's retained message on cw/v1/<facility>/<gateway>/status.
// The gateway publishes it on connect and periodically; the broker publishes
// the last will (State offline, Clean false) when the connection dies
// without a goodbye. A gateway that stops cleanly publishes offline with
// Clean true.
type Status struct {
	V            int          `json:"v"`
	Gateway      string       `json:"gateway"`
	Facility     string       `json:"facility"`
	Region       Region       `json:"region,omitempty"`
	State        GatewayState `json:"state"`
	Clean        bool         `json:"clean,omitempty"`            // offline on purpose (shutdown), not a lost link
	Version      string       `json:"version,omitempty"`          // gateway software version
	TimeMs       int64        `json:"time_ms,omitempty"`          // when the status was made (gateway clock)
	SpoolDepth   uint64       `json:"spool_depth"`                // readings not yet acknowledged by the centre
	SpoolBytes   int64        `json:"spool_bytes"`                // bytes on disk
	OldestMs     int64        `json:"oldest_unsent_ms,omitempty"` // measurement time of the oldest unacknowledged reading
	Dropped      uint64       `json:"dropped"`                    // spool entries (readings) dropped by the spool's policy since the gateway started; the gap measurement keeps the full history
	Unregistered []string     `json:"unregistered,omitempty"`     // devices seen on the local broker but not in the facility file
	NoDeviceTime []string     `json:"no_device_time,omitempty"`   // sources whose readings carry no device time and are dated on arrival
	RateLimited  uint64       `json:"rate_limited,omitempty"`     // readings refused since the gateway started because their arrival stamps would have run ahead of the clock
	// What the centre's acknowledgements said since the gateway started:
	// readings refused by reason (Reject* values, "other" for one the
	// gateway does not know), claims of the gateway it did not believe
	// (region_mismatch, bad_region: the facility's file needs fixing), and
	// when the last acknowledgement with either came (gateway clock).
	CentreRejected map[string]uint64 `json:"centre_rejected,omitempty"`
	CentreIgnored  []string          `json:"centre_ignored,omitempty"`
	CentreReportMs int64             `json:"centre_report_ms,omitempty"`
	Lat            float64           `json:"lat,omitempty"` // facility coordinates (WGS84), for the regulators\' map
	Lon            float64           `json:"lon,omitempty"`
}

// EncodeStatus renders a Status.
func EncodeStatus(s Status) []byte {
	s.V = WireVersion
	b, _ := json.Marshal(s) // cannot fail: plain struct
	return b
}

// DecodeStatus parses and checks a Status.
func DecodeStatus(p []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(p, &s); err != nil {
		return s, fmt.Errorf("status: %w", err)
	}
	if s.V != WireVersion {
		return s, fmt.Errorf("status: version %d, want %d", s.V, WireVersion)
	}
	if s.State != GatewayOnline && s.State != GatewayOffline {
		return s, fmt.Errorf("status: unknown state %q", s.State)
	}
	return s, nil
}
