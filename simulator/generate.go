package simulator

import (
	"fmt"

	"github.com/cradlewatch/cradlewatch/model"
)

// DefaultRegion is the street code generated facilities belong to when the
// caller names none (Jianguomenwai street, Chaoyang district, Beijing).
const DefaultRegion model.Region = "110105001"

// roomTemplate is one room of the generated facility layout.
type roomTemplate struct {
	id       string
	name     string
	typ      model.RoomType
	children int
	th       Family // temperature/humidity sensor family; "" for none
	air      bool   // an air-quality box
	door     bool   // a door contact
	camera   bool
}

// standardLayout is a typical small facility: three groups, shared activity
// and sleep rooms, a kitchen, an entrance and an office.
func standardLayout() []roomTemplate {
	return []roomTemplate{
		{"infant-1", "乳儿班", model.RoomInfant, 8, FamilyZigbee2MQTT, true, false, true},
		{"toddler-1", "托小班", model.RoomToddler, 15, FamilyZigbee2MQTT, true, false, true},
		{"toddler-2", "托大班", model.RoomToddler, 20, FamilyZigbee2MQTT, false, false, true},
		{"activity-1", "活动室", model.RoomActivity, 0, "", true, false, true},
		{"sleep-1", "寝室", model.RoomSleep, 0, FamilyZigbee2MQTT, true, false, true},
		{"kitchen-1", "厨房", model.RoomKitchen, 0, FamilyTasmota, false, true, false},
		{"entrance-1", "门厅", model.RoomEntrance, 0, "", false, true, true},
		{"office-1", "办公室", model.RoomOffice, 0, FamilyTasmota, false, false, false},
	}
}

// GenerateFacilities builds n facilities with the standard layout in the
// given street. Facility i (from 0) has ID "<region>-<i+1 as 4 digits>" and
// registers gateway "gw-<facility id>".
//
// When n > 1 the facilities usually share one broker in a load test, so the
// device addresses carry the facility number ("0002/infant-1/th",
// "0002-th-kitchen-1") and each facility's gateway sees only its own
// devices among the others' traffic. Zigbee2MQTT friendly names may contain
// '/', and Tasmota topics and camera names are free text, so these are
// addresses real installations could have.
func GenerateFacilities(n int, region model.Region) []FacilitySpec {
	if region == "" {
		region = DefaultRegion
	}
	out := make([]FacilitySpec, 0, n)
	for i := range n {
		num := fmt.Sprintf("%04d", i+1)
		prefix := ""
		if n > 1 {
			prefix = num
		}
		f := FacilitySpec{
			ID:           string(region) + "-" + num,
			Name:         fmt.Sprintf("模拟托育园%s", num),
			Region:       region,
			Timezone:     DefaultTimezone,
			Lat:          39.9087 + float64(i%100)*0.001,
			Lon:          116.4605 + float64(i/100)*0.001,
			OpeningHours: []string{"mon-fri 07:30-18:00"},
			Gateways:     []string{"gw-" + string(region) + "-" + num},
		}
		for _, t := range standardLayout() {
			f.Rooms = append(f.Rooms, RoomSpec{ID: t.id, Name: t.name, Type: t.typ, Children: t.children})
			f.Devices = append(f.Devices, templateDevices(t, prefix)...)
		}
		out = append(out, f)
	}
	return out
}

func templateDevices(t roomTemplate, prefix string) []DeviceSpec {
	z2m := func(suffix string) string {
		if prefix == "" {
			return t.id + "/" + suffix
		}
		return prefix + "/" + t.id + "/" + suffix
	}
	flat := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "-" + name
	}
	var ds []DeviceSpec
	switch t.th {
	case FamilyZigbee2MQTT:
		ds = append(ds, DeviceSpec{ID: "th-" + t.id, Room: t.id, Family: FamilyZigbee2MQTT, Model: ModelTH,
			Address: z2m("th"), Interval: DefaultTHInterval, MinInterval: DefaultMinInterval})
	case FamilyTasmota:
		ds = append(ds, DeviceSpec{ID: "th-" + t.id, Room: t.id, Family: FamilyTasmota, Model: ModelTH,
			Address: flat("th-" + t.id), Interval: DefaultTasmotaInterval})
	}
	if t.air {
		ds = append(ds, DeviceSpec{ID: "air-" + t.id, Room: t.id, Family: FamilyZigbee2MQTT, Model: ModelAir,
			Address: z2m("air"), Interval: DefaultAirInterval, MinInterval: DefaultMinInterval})
	}
	if t.door {
		ds = append(ds, DeviceSpec{ID: "door-" + t.id, Room: t.id, Family: FamilyZigbee2MQTT, Model: ModelDoor,
			Address: z2m("door"), Interval: DefaultDoorInterval, MinInterval: 0})
	}
	if t.camera {
		ds = append(ds, DeviceSpec{ID: "cam-" + t.id, Room: t.id, Family: FamilyNVR, Model: ModelCamera,
			Address: flat("cam-" + t.id), Interval: DefaultCameraInterval})
	}
	return ds
}
