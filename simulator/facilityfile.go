package simulator

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cradlewatch/cradlewatch/registry"
)

// FacilityFileFor builds the facility file of a simulated facility in the
// registry's schema (package registry, configs/facility.example.yaml), so a
// simulated facility can be installed on a gateway and registered at the
// centre as it is.
func FacilityFileFor(f FacilitySpec) registry.File {
	tz := f.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	ff := registry.File{
		Facility: registry.FacilitySection{
			ID: f.ID, Name: f.Name, Region: string(f.Region), Timezone: tz,
			Location:     registry.Location{Lat: f.Lat, Lon: f.Lon},
			OpeningHours: append([]string(nil), f.OpeningHours...),
		},
		Gateways: append([]string(nil), f.Gateways...),
	}
	for _, r := range f.Rooms {
		ff.Rooms = append(ff.Rooms, registry.RoomEntry{ID: r.ID, Name: r.Name, Type: string(r.Type)})
	}
	for _, d := range f.Devices {
		kinds := make([]string, 0, len(d.Kinds()))
		for _, k := range d.Kinds() {
			kinds = append(kinds, k.String())
		}
		ff.Devices = append(ff.Devices, registry.DeviceEntry{
			ID: d.ID, Room: d.Room, Source: string(d.Family), Address: d.Address,
			Kinds: kinds, Interval: registry.Duration(d.Interval),
		})
	}
	return ff
}

// WriteFacilityFile writes the facility file of f as YAML.
func WriteFacilityFile(w io.Writer, f FacilitySpec) error {
	ff := FacilityFileFor(f)
	b, err := ff.Marshal()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("facility %s: write facility file: %w", f.ID, err)
	}
	return nil
}

// ReadFacilityFile parses and checks a facility file as the registry does:
// unknown keys and invalid values are *config.Error naming the key.
func ReadFacilityFile(r io.Reader) (registry.File, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return registry.File{}, fmt.Errorf("facility file: %w", err)
	}
	return registry.Decode("facility file", buf.Bytes())
}
