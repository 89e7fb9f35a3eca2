package simulator

import (
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Family is the source family of a device: how it reaches the local broker
// and which gateway decoder reads it. Its value is the facility file's
// "source" key.
type Family string

// Source families the gateway decodes.
const (
	FamilyZigbee2MQTT Family = "zigbee2mqtt"
	FamilyTasmota     Family = "tasmota"
	FamilyNVR         Family = "nvr"
)

// DeviceModel is what kind of hardware a simulated device is; it decides
// the payload and the kinds the device reports.
type DeviceModel string

// Simulated device models.
const (
	// ModelTH is a temperature and humidity sensor (Zigbee, battery powered,
	// or Tasmota with an AM2301).
	ModelTH DeviceModel = "th"
	// ModelAir is a Zigbee air-quality box in the style of the Tuya
	// TS0601_smart_air_house_keeper: co2, pm25, formaldehyd, voc,
	// temperature, humidity.
	ModelAir DeviceModel = "air"
	// ModelDoor is a Zigbee door contact.
	ModelDoor DeviceModel = "door"
	// ModelCamera is a camera whose NVR agent publishes heartbeats.
	ModelCamera DeviceModel = "camera"
)

// Default reporting intervals in simulated time. Zigbee sensors report at
// the latest every Interval and earlier when a value changes noticeably, but
// not more often than MinInterval (Zigbee reporting configuration).
const (
	DefaultTHInterval      = 60 * time.Second
	DefaultTasmotaInterval = 300 * time.Second // Tasmota's default TelePeriod
	DefaultAirInterval     = 60 * time.Second
	DefaultDoorInterval    = 50 * time.Minute // contact sensors check in rarely
	DefaultCameraInterval  = 30 * time.Second
	DefaultMinInterval     = 5 * time.Second
)

// FacilitySpec describes one simulated facility: its identity as written to
// the gateway's facility file, its rooms and its devices.
type FacilitySpec struct {
	ID           string
	Name         string
	Region       model.Region
	Timezone     string // IANA name; Asia/Shanghai when empty
	Lat, Lon     float64
	OpeningHours []string // as in the facility file, e.g. "mon-fri 07:30-18:00"
	// Gateways registered to the facility in its file; the centre accepts
	// batches of these gateways only. GenerateFacilities registers
	// "gw-<facility id>".
	Gateways []string
	// Broker overrides Options.BrokerURL for this facility's local broker.
	Broker  string
	Rooms   []RoomSpec
	Devices []DeviceSpec
}

// RoomSpec is one room of a simulated facility.
type RoomSpec struct {
	ID       string
	Name     string
	Type     model.RoomType
	Children int // children in the room on a normal day; drives CO2
}

// DeviceSpec is one simulated device.
type DeviceSpec struct {
	ID     string
	Room   string
	Family Family
	Model  DeviceModel
	// Address is the Zigbee2MQTT friendly name, the Tasmota topic or the
	// NVR agent's camera name.
	Address     string
	Interval    time.Duration // longest time between two reports
	MinInterval time.Duration // shortest time between change-driven reports
}

// Kinds lists what the device reports, in the facility file's order.
func (d DeviceSpec) Kinds() []model.Kind {
	switch d.Model {
	case ModelTH:
		if d.Family == FamilyTasmota {
			return []model.Kind{model.KindTemperature, model.KindHumidity}
		}
		return []model.Kind{model.KindTemperature, model.KindHumidity, model.KindBattery, model.KindLinkQuality}
	case ModelAir:
		return []model.Kind{model.KindCO2, model.KindPM25, model.KindHCHO, model.KindTVOC,
			model.KindTemperature, model.KindHumidity, model.KindLinkQuality}
	case ModelDoor:
		return []model.Kind{model.KindDoor, model.KindBattery, model.KindLinkQuality}
	case ModelCamera:
		return []model.Kind{model.KindCameraOnline, model.KindCameraRecording, model.KindCameraRetention}
	}
	return nil
}

// location loads the facility's time zone.
func (f *FacilitySpec) location() (*time.Location, error) {
	tz := f.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("facility %s: timezone %q: %w", f.ID, tz, err)
	}
	return loc, nil
}

// DefaultTimezone is the time zone of facilities that name none.
const DefaultTimezone = "Asia/Shanghai"

// validate checks the spec before anything is published.
func (f *FacilitySpec) validate() error {
	if err := model.ValidateID("facility id", f.ID); err != nil {
		return err
	}
	if _, err := model.ParseRegion(string(f.Region)); err != nil {
		return fmt.Errorf("facility %s: %w", f.ID, err)
	}
	if _, err := f.location(); err != nil {
		return err
	}
	rooms := map[string]bool{}
	for i, r := range f.Rooms {
		if err := model.ValidateID(fmt.Sprintf("facility %s rooms[%d].id", f.ID, i), r.ID); err != nil {
			return err
		}
		if rooms[r.ID] {
			return fmt.Errorf("facility %s rooms[%d].id %q is used twice", f.ID, i, r.ID)
		}
		if !r.Type.Valid() {
			return fmt.Errorf("facility %s rooms[%d].type %q is not a known room type", f.ID, i, r.Type)
		}
		rooms[r.ID] = true
	}
	devs := map[string]bool{}
	for i, d := range f.Devices {
		where := fmt.Sprintf("facility %s devices[%d]", f.ID, i)
		if err := model.ValidateID(where+".id", d.ID); err != nil {
			return err
		}
		if devs[d.ID] {
			return fmt.Errorf("%s.id %q is used twice", where, d.ID)
		}
		devs[d.ID] = true
		if !rooms[d.Room] {
			return fmt.Errorf("%s.room %q is not a room of the facility", where, d.Room)
		}
		if d.Address == "" {
			return fmt.Errorf("%s.address is empty", where)
		}
		if d.Kinds() == nil {
			return fmt.Errorf("%s.model %q is not a simulated device model", where, d.Model)
		}
		switch {
		case d.Family == FamilyNVR && d.Model == ModelCamera,
			d.Family == FamilyTasmota && d.Model == ModelTH,
			d.Family == FamilyZigbee2MQTT && d.Model != ModelCamera:
		default:
			return fmt.Errorf("%s: model %q cannot be simulated with source %q", where, d.Model, d.Family)
		}
		if d.Interval <= 0 {
			return fmt.Errorf("%s.interval must be positive", where)
		}
	}
	return nil
}
