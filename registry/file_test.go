package registry

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestLoadExample(t *testing.T) {
	f, err := Load("../configs/facility.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "110105001-0001" || f.Region != "110105001" || f.Location.String() != "Asia/Shanghai" ||
		f.Coordinates.Lat != 39.9219 || len(f.OpeningHours) != 1 {
		t.Fatalf("facility %+v", f.Facility)
	}
	if !f.HasGateway("gw-110105001-0001-a") || f.HasGateway("gw-other") {
		t.Errorf("gateways %v", f.Gateways)
	}
	if len(f.Operators) != 2 || f.Operators[0].Phone != "+8613800001234" || f.Operators[1].Email != "duty@example.org" {
		t.Errorf("operators %+v", f.Operators)
	}
	d := f.Device("th-infant-1")
	if d == nil || d.Room != "infant-1" || d.Interval != time.Minute || len(d.Kinds) != 4 || d.Kinds[0] != model.KindTemperature {
		t.Fatalf("device %+v", d)
	}
	if f.Sources["zigbee2mqtt"]["infant-1/th"] != d || f.RoomType("infant-1") != model.RoomInfant || f.RoomType("nope") != "" {
		t.Error("source index or room types")
	}
	if r, ok := f.Room("entrance"); !ok || r.Name != "门厅" {
		t.Errorf("room %+v", r)
	}
	// The central copy is the same record.
	if c, err := Load("../configs/facilities/110105001-0001.yaml"); err != nil || !reflect.DeepEqual(c.File(), f.File()) {
		t.Errorf("configs/facilities differs from the example: %v", err)
	}
}

// TestFileRoundTrip: what Marshal writes, Parse reads back to the same
// record (the simulator writes facility files this way).
func TestFileRoundTrip(t *testing.T) {
	f, err := Load("../configs/facility.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := f.File()
	b, err := file.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "interval: 60s") || !strings.Contains(string(b), "kinds: [temperature, humidity, battery, linkquality]") {
		t.Errorf("written as an installer would not write it:\n%s", b)
	}
	g, err := Parse("round-trip", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.File(), file) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", g.File(), file)
	}
}

const goodFile = `facility: {id: f-1, name: 园, region: "110105001", opening_hours: ["mon-fri 07:30-18:00"]}
gateways: [gw-1]
operators:
  - {name: 园长, phone: "+8613800001234", role: director}
rooms:
  - {id: r1, name: 乳儿班, type: infant}
devices:
  - {id: d1, room: r1, source: zigbee2mqtt, address: a1, kinds: [temperature], interval: 60s}
`

// TestFileErrorsNameFileKeyAndReason: every mistake an installer makes is
// reported with the file, the key and the reason, and a phone number never
// appears in full.
func TestFileErrorsNameFileKeyAndReason(t *testing.T) {
	for _, c := range []struct {
		name, old, new, key, reason string
	}{
		{"unknown top key", "gateways:", "colour: red\ngateways:", "colour", "unknown key"},
		{"unknown nested key", "kinds: [temperature]", "kinds: [temperature], colour: red", "devices[0].colour", "unknown key"},
		{"bad interval", "interval: 60s", "interval: soon", "devices[0].interval", "not a duration"},
		{"bad region", `region: "110105001"`, `region: "1101"`, "facility.region", "9 digits"},
		{"bad id", "id: f-1", "id: f 1", "facility.id", "character"},
		{"bad time zone", "name: 园,", "name: 园, timezone: Mars/Olympus,", "facility.timezone", "IANA"},
		{"bad location", "name: 园,", "name: 园, location: {lat: 91, lon: 0},", "facility.location", "out of range"},
		{"gateway twice", "[gw-1]", "[gw-1, gw-1]", "gateways[1]", "twice"},
		{"bad gateway id", "[gw-1]", "[gw/1]", "gateways[0]", "character"},
		{"operator without a channel", `phone: "+8613800001234", `, "", "operators[0].phone", "needs a phone"},
		{"operator without a name", "name: 园长", "name: ' '", "operators[0].name", "empty"},
		{"bad phone", `"+8613800001234"`, `"+86 138-0000-1234x"`, "operators[0].phone", "not a phone number"},
		{"bad email", `role: director}`, `role: director, email: "not mail"}`, "operators[0].email", "e-mail"},
		{"bad webhook", `role: director}`, `role: director, webhook: "ftp://x"}`, "operators[0].webhook", "URL"},
		{"bad dingtalk", `role: director}`, `role: director, dingtalk: "oapi.dingtalk.com"}`, "operators[0].dingtalk", "URL"},
		{"room twice", "rooms:\n", "rooms:\n  - {id: r1, name: x, type: toddler}\n", "rooms[1].id", "twice"},
		{"bad room type", "type: infant", "type: nursery", "rooms[0].type", "not one of"},
		{"unknown room", "room: r1,", "room: r9,", "devices[0].room", "not one of the rooms"},
		{"unknown kind", "kinds: [temperature]", "kinds: [temperature, radon]", "devices[0].kinds[1]", "unknown reading kind"},
		{"negative interval", "interval: 60s", "interval: -5s", "devices[0].interval", "negative"},
		{"device twice", "interval: 60s}\n", "interval: 60s}\n  - {id: d1, source: tasmota, address: x}\n", "devices[1].id", "twice"},
		{"address twice", "interval: 60s}\n", "interval: 60s}\n  - {id: d2, source: zigbee2mqtt, address: a1}\n", "devices[1].address", "another device"},
		{"no source", "source: zigbee2mqtt, ", "", "devices[0].source", "empty"},
		{"wrong type", `name: 园,`, `name: [1, 2],`, "facility.name", "cannot unmarshal"},
		{"registration without a number", "name: 园,", `name: 园, registration: {date: "2025-03-01"},`, "facility.registration.number", "empty"},
		{"registration date", "name: 园,", `name: 园, registration: {number: "京朝托备字〔2025〕第0123号", date: "2025-02-30"},`, "facility.registration.date", "not a date"},
		{"registration date form", "name: 园,", `name: 园, registration: {number: "A-1", date: "2025/03/01"},`, "facility.registration.date", "YYYY-MM-DD"},
		{"registration phone", "name: 园,", `name: 园, registration: {number: "13800001234"},`, "facility.registration.number", "mobile phone"},
		{"registration phone inside", "name: 园,", `name: 园, registration: {number: "园长电话13912345678"},`, "facility.registration.number", "mobile phone"},
		{"registration spaces", "name: 园,", `name: 园, registration: {number: " A-1"},`, "facility.registration.number", "spaces"},
		{"registration control", "name: 园,", `name: 园, registration: {number: "A\u0007-1"},`, "facility.registration.number", "control"},
		{"registration too long", "name: 园,", `name: 园, registration: {number: "` + strings.Repeat("备", 65) + `"},`, "facility.registration.number", "longer than 64"},
		{"registration unknown key", "name: 园,", `name: 园, registration: {number: "A-1", issuer: x},`, "facility.registration.issuer", "unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.Replace(goodFile, c.old, c.new, 1)
			if body == goodFile {
				t.Fatalf("%q not found in the good file", c.old)
			}
			_, err := Parse("dir/f-1.yaml", []byte(body))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err %v (%T), want a *config.Error", err, err)
			}
			if ce.File != "dir/f-1.yaml" || ce.Key != c.key || !strings.Contains(ce.Reason, c.reason) {
				t.Fatalf("got file %q key %q reason %q, want key %q reason containing %q", ce.File, ce.Key, ce.Reason, c.key, c.reason)
			}
			if strings.Contains(err.Error(), "13800001234") {
				t.Fatalf("error shows a phone number: %v", err)
			}
		})
	}
	if _, err := Parse("good", []byte(goodFile)); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	if _, err := Parse("empty", nil); err == nil || !strings.Contains(err.Error(), "facility.id") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := Load("no/such/file.yaml"); err == nil || !strings.Contains(err.Error(), "no/such/file.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestRegistration: the filing number and date are read, kept through a
// round trip, and absent when the file has none; long numbers whose digits
// are not a phone number are accepted.
func TestRegistration(t *testing.T) {
	f, err := Load("../configs/facility.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Registration.Number != "京朝卫托备字〔2025〕第0012号" || f.Registration.Date != "2025-03-18" {
		t.Errorf("example registration %+v", f.Registration)
	}
	for number, ok := range map[string]bool{
		"91110105MA01ABCD2X": true, "110105202500123": true, "(2025)0012": true, "京朝卫托备字〔2025〕第0012号": true,
		"1380000123": true, "013800001234": true, "138000012345": true, "+8613800001234": false, "tel:13800001234": false,
	} {
		body := strings.Replace(goodFile, "name: 园,", `name: 园, registration: {number: "`+number+`"},`, 1)
		g, err := Parse("f.yaml", []byte(body))
		if (err == nil) != ok {
			t.Errorf("%q: %v, want accepted %v", number, err, ok)
			continue
		}
		if ok && (g.Registration.Number != number || g.Registration.Date != "") {
			t.Errorf("%q read as %+v", number, g.Registration)
		}
	}
	g, err := Parse("f.yaml", []byte(goodFile))
	if err != nil || g.Registration != (Registration{}) || g.File().Facility.Registration != nil {
		t.Errorf("no registration: %+v %v", g.Registration, err)
	}
	file := g.File()
	if b, _ := file.Marshal(); strings.Contains(string(b), "registration") {
		t.Errorf("an absent registration is written:\n%s", b)
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{"+8613800001234": "138****1234", "13800001234": "138****1234", "123": "****"} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: a facility file is outside input; Parse never panics, and a
// file it accepts is written back and read again to the same record.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("facility: {id: a, region: \"110105001\"}\ndevices: [{id: d, source: s, address: a, interval: soon}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fac, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		file := fac.File()
		out, err := file.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse("again", out)
		if err != nil {
			t.Fatalf("accepted file not read back: %v\n%s", err, out)
		}
		file2 := again.File()
		out2, err := file2.Marshal()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("round trip differs:\n%s\nthen\n%s", out, out2)
		}
	})
}

// TestShippedFacilityFiles: every facility file the repository ships loads
// and registers a gateway (a file listing none sends nothing the centre
// accepts).
func TestShippedFacilityFiles(t *testing.T) {
	for _, dir := range []string{"../configs/facilities", "../deploy/compose/config/facilities"} {
		r, err := OpenDir(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Snapshot().Facilities() {
			if len(f.Gateways) == 0 {
				t.Errorf("%s registers no gateway", f.Origin)
			}
		}
	}
}
