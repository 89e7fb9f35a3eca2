package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// DefaultTimezone is the time zone of a facility file that names none.
const DefaultTimezone = "Asia/Shanghai"

// File is the facility file as written (configs/facility.example.yaml).
type File struct {
	Facility  FacilitySection `yaml:"facility"`
	Gateways  []string        `yaml:"gateways,omitempty,flow"`
	Operators []Operator      `yaml:"operators,omitempty"`
	Rooms     []RoomEntry     `yaml:"rooms"`
	Devices   []DeviceEntry   `yaml:"devices"`
}

// FacilitySection is the facility's identity and calendar basics.
type FacilitySection struct {
	ID           string   `yaml:"id"`
	Name         string   `yaml:"name"`
	Region       string   `yaml:"region"`
	Timezone     string   `yaml:"timezone"`
	Location     Location `yaml:"location"`
	OpeningHours []string `yaml:"opening_hours"`
	// Registration is the facility's filing with the health commission
	// (托育机构备案); optional.
	Registration *Registration `yaml:"registration,omitempty"`
}

// Registration is the facility's filing (备案): its number and the date it
// was filed. Both are public: the console's disclosure page shows them.
type Registration struct {
	Number string `yaml:"number"`
	Date   string `yaml:"date,omitempty"` // YYYY-MM-DD
}

// Bounds of a registration number.
const maxRegistrationRunes = 64

// mobileLike is a mainland mobile number: 11 digits from 13 to 19, with or
// without the country code 86, not part of a longer run of digits.
var mobileLike = regexp.MustCompile(`(^|[^0-9])(0{0,2}86)?1[3-9][0-9]{9}($|[^0-9])`)

// validate checks a registration; keys are under facility.registration.
func (r *Registration) validate() error {
	const key = "facility.registration"
	n := r.Number
	switch {
	case strings.TrimSpace(n) == "":
		return config.Errorf(key+".number", "empty (leave registration out if the facility has no filing number yet)")
	case strings.TrimSpace(n) != n:
		return config.Errorf(key+".number", "%q has spaces around it", n)
	case utf8.RuneCountInString(n) > maxRegistrationRunes:
		return config.Errorf(key+".number", "longer than %d characters", maxRegistrationRunes)
	case strings.IndexFunc(n, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0:
		return config.Errorf(key+".number", "contains a control or invisible character")
	case mobileLike.MatchString(n):
		// The public page never shows a phone number: one typed into the
		// wrong field must not be published.
		return config.Errorf(key+".number", "looks like a mobile phone number, which the public page must never show")
	}
	if r.Date != "" {
		if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
			return config.Errorf(key+".date", "%q is not a date (YYYY-MM-DD)", r.Date)
		}
	}
	return nil
}

// Location is the facility's coordinates (WGS84), for the regulators' map.
type Location struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// Operator is a person the facility's alerts go to first. Phone is
// personal information: logs show it masked (MaskPhone). The other
// channels are optional: an e-mail address, and a DingTalk, WeCom or
// generic webhook URL.
type Operator struct {
	Name     string `yaml:"name"`
	Phone    string `yaml:"phone,omitempty"`
	Role     string `yaml:"role,omitempty"`
	Email    string `yaml:"email,omitempty"`
	DingTalk string `yaml:"dingtalk,omitempty"`
	WeCom    string `yaml:"wecom,omitempty"`
	Webhook  string `yaml:"webhook,omitempty"`
}

// RoomEntry is one room.
type RoomEntry struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// DeviceEntry is one registered device and where its data comes from.
type DeviceEntry struct {
	ID       string   `yaml:"id"`
	Room     string   `yaml:"room,omitempty"`
	Source   string   `yaml:"source"`  // gateway source: zigbee2mqtt, tasmota, nvr, rtsp or a json source's name
	Address  string   `yaml:"address"` // identity at the source: Z2M friendly name, Tasmota topic, camera id, host:port for rtsp
	Kinds    []string `yaml:"kinds,flow"`
	Interval Duration `yaml:"interval,omitempty"`
}

// Duration is a time.Duration written the way installers write it ("60s",
// "5m") rather than Go's "1m0s".
type Duration time.Duration

// MarshalYAML writes whole seconds as "<n>s" and anything else in Go syntax.
func (d Duration) MarshalYAML() (any, error) {
	td := time.Duration(d)
	if td%time.Second == 0 {
		return fmt.Sprintf("%ds", td/time.Second), nil
	}
	return td.String(), nil
}

// UnmarshalYAML reads a Go duration string ("60s", "1h30m").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	td, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (60s, 5m, 1h)", n.Line, n.Value)
	}
	*d = Duration(td)
	return nil
}

// roomTypes is the list the room type error shows.
const roomTypes = "infant, toddler, activity, sleep, feeding, kitchen, corridor, entrance, office, outdoor"

// Validate checks the file, naming the offending key (config.Error with an
// empty File; Parse fills it in).
func (f *File) Validate() error {
	fs := &f.Facility
	if err := model.ValidateID("id", fs.ID); err != nil {
		return config.Errorf("facility.id", "%v", err)
	}
	if _, err := model.ParseRegion(fs.Region); err != nil {
		return config.Errorf("facility.region", "%v", err)
	}
	if _, err := time.LoadLocation(fs.Timezone); err != nil || fs.Timezone == "" {
		return config.Errorf("facility.timezone", "%q is not an IANA time zone (Asia/Shanghai)", fs.Timezone)
	}
	if la, lo := fs.Location.Lat, fs.Location.Lon; la < -90 || la > 90 || lo < -180 || lo > 180 || la != la || lo != lo {
		return config.Errorf("facility.location", "lat %v lon %v out of range", la, lo)
	}
	if fs.Registration != nil {
		if err := fs.Registration.validate(); err != nil {
			return err
		}
	}
	gws := map[string]bool{}
	for i, g := range f.Gateways {
		key := fmt.Sprintf("gateways[%d]", i)
		if err := model.ValidateID("gateway id", g); err != nil {
			return config.Errorf(key, "%v", err)
		}
		if gws[g] {
			return config.Errorf(key, "%q is listed twice", g)
		}
		gws[g] = true
	}
	for i, op := range f.Operators {
		if err := op.validate(); err != nil {
			var ce *config.Error
			errors.As(err, &ce)
			ce.Key = fmt.Sprintf("operators[%d].%s", i, ce.Key)
			return ce
		}
	}
	rooms := map[string]bool{}
	for i, r := range f.Rooms {
		key := fmt.Sprintf("rooms[%d]", i)
		if err := model.ValidateID("id", r.ID); err != nil {
			return config.Errorf(key+".id", "%v", err)
		}
		if rooms[r.ID] {
			return config.Errorf(key+".id", "%q is used twice", r.ID)
		}
		rooms[r.ID] = true
		if !model.RoomType(r.Type).Valid() {
			return config.Errorf(key+".type", "%q is not one of %s", r.Type, roomTypes)
		}
	}
	devs := map[string]bool{}
	srcs := map[SourceKey]bool{}
	for i, d := range f.Devices {
		key := fmt.Sprintf("devices[%d]", i)
		if err := model.ValidateID("id", d.ID); err != nil {
			return config.Errorf(key+".id", "%v", err)
		}
		if devs[d.ID] {
			return config.Errorf(key+".id", "%q is used twice", d.ID)
		}
		devs[d.ID] = true
		if d.Room != "" && !rooms[d.Room] {
			return config.Errorf(key+".room", "%q is not one of the rooms", d.Room)
		}
		if d.Source == "" {
			return config.Errorf(key+".source", "empty")
		}
		if d.Address == "" {
			return config.Errorf(key+".address", "empty")
		}
		sk := SourceKey{d.Source, d.Address}
		if srcs[sk] {
			return config.Errorf(key+".address", "source %s address %q is used by another device", d.Source, d.Address)
		}
		srcs[sk] = true
		for j, k := range d.Kinds {
			if _, err := model.ParseKind(k); err != nil {
				return config.Errorf(fmt.Sprintf("%s.kinds[%d]", key, j), "%v", err)
			}
		}
		if d.Interval < 0 {
			return config.Errorf(key+".interval", "must not be negative")
		}
	}
	return nil
}

func (op *Operator) validate() error {
	if strings.TrimSpace(op.Name) == "" {
		return config.Errorf("name", "empty")
	}
	if op.Phone != "" && !validPhone(op.Phone) {
		// The number is personal data: the error shows it masked.
		return config.Errorf("phone", "%s is not a phone number (digits, an optional leading +, 5 to 15 digits)", MaskPhone(op.Phone))
	}
	if op.Email != "" {
		if a, err := mail.ParseAddress(op.Email); err != nil || a.Address != op.Email {
			return config.Errorf("email", "not a plain e-mail address (name@example.org)")
		}
	}
	for _, u := range []struct{ key, v string }{{"dingtalk", op.DingTalk}, {"wecom", op.WeCom}, {"webhook", op.Webhook}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return config.Errorf(u.key, "not an http(s) URL")
		}
	}
	if op.Phone == "" && op.Email == "" && op.DingTalk == "" && op.WeCom == "" && op.Webhook == "" {
		return config.Errorf("phone", "an operator needs a phone or another channel (email, dingtalk, wecom, webhook)")
	}
	return nil
}

func validPhone(p string) bool {
	d := strings.TrimPrefix(p, "+")
	if len(d) < 5 || len(d) > 15 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// MaskPhone shows a phone number the way logs may (PIPL): the first three
// and the last four digits, "138****1234"; "+86" is dropped.
func MaskPhone(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "+"), "86")
	if len(p) < 8 {
		return "****"
	}
	return p[:3] + "****" + p[len(p)-4:]
}

// defaultFile holds the defaults a file may omit.
func defaultFile() File { return File{Facility: FacilitySection{Timezone: DefaultTimezone}} }

// Load reads and checks one facility file: what the gateway does with its
// own facility's file.
func Load(path string) (*Facility, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{File: path, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	return Parse(path, b)
}

// Parse reads and checks a facility file's content; name is its origin in
// errors and in Facility.Origin.
func Parse(name string, data []byte) (*Facility, error) {
	f, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	return build(name, &f), nil
}

// Decode reads a facility file's content into a checked File.
func Decode(name string, data []byte) (File, error) {
	f := defaultFile()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return File{}, &config.Error{File: name, Reason: cleanYAMLError(err.Error())}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key must not silently fall back to a default
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, yamlError(name, &root, err)
	}
	if err := f.Validate(); err != nil {
		return File{}, withFile(err, name)
	}
	return f, nil
}

// withFile makes err a *config.Error of the named file.
func withFile(err error, name string) *config.Error {
	var ce *config.Error
	if errors.As(err, &ce) {
		out := *ce
		out.File = name
		return &out
	}
	return &config.Error{File: name, Reason: err.Error()}
}

// Marshal renders the file as YAML, as an installer would write it.
func (f *File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("facility %s: encode: %w", f.Facility.ID, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("facility %s: encode: %w", f.Facility.ID, err)
	}
	return buf.Bytes(), nil
}
