package simulator

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/model"
)

// FacilityFile is the gateway's facility file, in the format the gateway
// reads: the facility, its rooms, and its devices with source family and
// address. The simulator writes it so that a simulated facility can be
// installed on a gateway as it is.
type FacilityFile struct {
	Facility FacilityHeader `yaml:"facility"`
	Rooms    []FileRoom     `yaml:"rooms"`
	Devices  []FileDevice   `yaml:"devices"`
}

// FacilityHeader is the facility file's "facility" section.
type FacilityHeader struct {
	ID           string       `yaml:"id"`
	Name         string       `yaml:"name"`
	Region       string       `yaml:"region"`
	Timezone     string       `yaml:"timezone"`
	Location     FileLocation `yaml:"location"`
	OpeningHours []string     `yaml:"opening_hours"`
}

// FileLocation is the facility's position (WGS-84 degrees).
type FileLocation struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// FileRoom is one entry of the facility file's "rooms".
type FileRoom struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// FileDevice is one entry of the facility file's "devices".
type FileDevice struct {
	ID       string       `yaml:"id"`
	Room     string       `yaml:"room"`
	Source   string       `yaml:"source"`
	Address  string       `yaml:"address"`
	Kinds    []string     `yaml:"kinds,flow"`
	Interval FileDuration `yaml:"interval"`
}

// FileDuration is a duration written the way installers write it ("60s",
// "5m") rather than Go's "1m0s".
type FileDuration time.Duration

// MarshalYAML writes whole seconds as "<n>s" and anything else in Go syntax.
func (d FileDuration) MarshalYAML() (any, error) {
	td := time.Duration(d)
	if td%time.Second == 0 {
		return fmt.Sprintf("%ds", td/time.Second), nil
	}
	return td.String(), nil
}

// UnmarshalYAML reads a Go duration string.
func (d *FileDuration) UnmarshalYAML(n *yaml.Node) error {
	td, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: interval %q: %w", n.Line, n.Value, err)
	}
	*d = FileDuration(td)
	return nil
}

// FacilityFileFor builds the facility file of a simulated facility.
func FacilityFileFor(f FacilitySpec) FacilityFile {
	tz := f.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	ff := FacilityFile{
		Facility: FacilityHeader{
			ID: f.ID, Name: f.Name, Region: string(f.Region), Timezone: tz,
			Location:     FileLocation{Lat: f.Lat, Lon: f.Lon},
			OpeningHours: append([]string(nil), f.OpeningHours...),
		},
	}
	for _, r := range f.Rooms {
		ff.Rooms = append(ff.Rooms, FileRoom{ID: r.ID, Name: r.Name, Type: string(r.Type)})
	}
	for _, d := range f.Devices {
		kinds := make([]string, 0, len(d.Kinds()))
		for _, k := range d.Kinds() {
			kinds = append(kinds, k.String())
		}
		ff.Devices = append(ff.Devices, FileDevice{
			ID: d.ID, Room: d.Room, Source: string(d.Family), Address: d.Address,
			Kinds: kinds, Interval: FileDuration(d.Interval),
		})
	}
	return ff
}

// WriteFacilityFile writes the facility file of f as YAML.
func WriteFacilityFile(w io.Writer, f FacilitySpec) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(FacilityFileFor(f)); err != nil {
		return fmt.Errorf("facility %s: encode facility file: %w", f.ID, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("facility %s: encode facility file: %w", f.ID, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("facility %s: write facility file: %w", f.ID, err)
	}
	return nil
}

// ReadFacilityFile parses a facility file, rejecting unknown keys.
func ReadFacilityFile(r io.Reader) (FacilityFile, error) {
	var ff FacilityFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&ff); err != nil {
		return FacilityFile{}, fmt.Errorf("facility file: %w", err)
	}
	return ff, nil
}

// Model converts the file into the shared data model and validates it, so
// that what the simulator writes is checked by the same rules the gateway
// applies.
func (ff FacilityFile) Model() (model.Facility, error) {
	loc, err := time.LoadLocation(ff.Facility.Timezone)
	if err != nil {
		return model.Facility{}, fmt.Errorf("facility.timezone %q: %w", ff.Facility.Timezone, err)
	}
	f := model.Facility{ID: ff.Facility.ID, Name: ff.Facility.Name, Region: model.Region(ff.Facility.Region), Location: loc}
	for _, r := range ff.Rooms {
		f.Rooms = append(f.Rooms, model.Room{ID: r.ID, Name: r.Name, Type: model.RoomType(r.Type)})
	}
	for i, d := range ff.Devices {
		md := model.Device{ID: d.ID, Room: d.Room, Interval: time.Duration(d.Interval)}
		for _, name := range d.Kinds {
			k, err := model.ParseKind(name)
			if err != nil {
				return model.Facility{}, fmt.Errorf("devices[%d].kinds: %w", i, err)
			}
			md.Kinds = append(md.Kinds, k)
		}
		f.Devices = append(f.Devices, md)
	}
	if err := f.Validate(); err != nil {
		return model.Facility{}, fmt.Errorf("facility file: %w", err)
	}
	return f, nil
}
