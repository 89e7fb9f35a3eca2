package decode

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// SourceConfig is one entry of the gateway YAML's `sources:` list as the
// config loader decoded it (a map of keys to values). Its "family" key picks
// the decoder; the other keys are decoded, with mapstructure, into that
// family's config struct. Unknown keys are errors, so a typo in the YAML
// fails at start, not silently.
type SourceConfig = map[string]any

// Common holds the keys every source accepts.
type Common struct {
	// Family selects the decoder: zigbee2mqtt, tasmota, nvr or json.
	Family string `mapstructure:"family"`
	// Name is the Source of the source's observations, which the facility
	// file's devices[].source refers to. It defaults to the family; give
	// it when a facility runs two sources of one family (two Zigbee2MQTT
	// instances), and always for json sources.
	Name string `mapstructure:"name"`
}

func (c *Common) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Family
}

// factory builds a decoder from its raw config.
type factory func(raw SourceConfig) (Decoder, error)

// registry is the one place that lists the decoder families. It is a
// function rather than a package variable so that no state is shared
// between Builds.
func registry() map[string]factory {
	return map[string]factory{
		FamilyZigbee2MQTT: typed(NewZigbee2MQTT),
		FamilyTasmota:     typed(NewTasmota),
		FamilyNVR:         typed(NewNVR),
		FamilyJSON:        typed(NewGenericJSON),
	}
}

// Families lists the registered family names, sorted.
func Families() []string {
	var out []string
	for f := range registry() {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// typed adapts a constructor taking a typed config to a factory.
func typed[C any, D Decoder](newFn func(C) (D, error)) factory {
	return func(raw SourceConfig) (Decoder, error) {
		var cfg C
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		return newFn(cfg)
	}
}

func decodeConfig(raw SourceConfig, out any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      out,
		ErrorUnused: true,
		Squash:      true,
		TagName:     "mapstructure",
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(raw); err != nil {
		// mapstructure's message starts with a generic header; keep the
		// lines that name keys.
		msg := strings.TrimPrefix(err.Error(), "decoding failed due to the following error(s):\n\n")
		return fmt.Errorf("%s", strings.ReplaceAll(msg, "\n", "; "))
	}
	return nil
}

// buildDecoders turns the sources list into decoders. Errors name the
// entry and the key: "sources[2].fields[0].path: empty".
func buildDecoders(cfgs []SourceConfig) ([]Decoder, []string, error) {
	reg := registry()
	decs := make([]Decoder, 0, len(cfgs))
	names := make([]string, 0, len(cfgs))
	seen := map[string]int{}
	for i, raw := range cfgs {
		fam, _ := raw["family"].(string)
		if fam == "" {
			return nil, nil, fmt.Errorf("sources[%d].family: empty; one of %s", i, strings.Join(Families(), ", "))
		}
		f, ok := reg[fam]
		if !ok {
			return nil, nil, fmt.Errorf("sources[%d].family: %q is not one of %s", i, fam, strings.Join(Families(), ", "))
		}
		d, err := f(raw)
		var ce *ConfigError
		switch {
		case errors.As(err, &ce):
			return nil, nil, fmt.Errorf("sources[%d].%w", i, err)
		case err != nil:
			return nil, nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		name := sourceName(d)
		if j, dup := seen[name]; dup {
			return nil, nil, fmt.Errorf("sources[%d].name: %q is already the name of sources[%d]; give one of them another name", i, name, j)
		}
		seen[name] = i
		decs = append(decs, d)
		names = append(names, name)
	}
	return decs, names, nil
}

// named is implemented by the built-in decoders.
type named interface{ Name() string }

func sourceName(d Decoder) string {
	if n, ok := d.(named); ok {
		return n.Name()
	}
	return d.Family()
}

// ConfigError is an invalid key of a source's config. Build prefixes it
// with the source's position: "sources[2].fields[0].path: empty".
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

func configErr(key, format string, args ...any) *ConfigError {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}
