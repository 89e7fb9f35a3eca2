// Package config loads a service's YAML configuration with viper, applies
// CW_... environment overrides and reports every problem as file, key and
// reason, so that an installer can fix the YAML without reading code.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of environment overrides: key uplink.broker is
// overridden by CW_UPLINK_BROKER.
const EnvPrefix = "CW"

// Error is a configuration problem: which file, which key, what is wrong.
type Error struct {
	File   string
	Key    string
	Reason string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Reason)
}

// Errorf builds an *Error for key; File is filled in by Load.
func Errorf(key, format string, args ...any) *Error {
	return &Error{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// Validator is implemented by configuration structs that check themselves
// after decoding. Returning an *Error (or one wrapped) lets Load add the file.
type Validator interface {
	Validate() error
}

// Load reads path into cfg. cfg must be a pointer to a struct with
// `mapstructure` tags whose current field values are the defaults. Unknown
// keys are errors (a typo must not silently fall back to a default).
// Environment variables CW_<KEY> (dots as underscores, upper case) override
// scalar keys. When cfg implements Validator, Validate runs last.
func Load(path string, cfg any) error {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v, "", reflect.ValueOf(cfg).Elem())
	if path != "" {
		if err := v.ReadInConfig(); err != nil {
			return &Error{File: path, Reason: fmt.Sprintf("cannot read: %v", err)}
		}
	}
	dc := func(c *mapstructure.DecoderConfig) {
		c.ErrorUnused = true
		c.WeaklyTypedInput = true
		c.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	}
	name := path
	if name == "" {
		name = "(defaults)"
	}
	if err := v.Unmarshal(cfg, dc); err != nil {
		return &Error{File: name, Reason: cleanDecodeError(err)}
	}
	if val, ok := cfg.(Validator); ok {
		if err := val.Validate(); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				ce.File = name
				return ce
			}
			return &Error{File: name, Reason: err.Error()}
		}
	}
	return nil
}

// setDefaults registers every scalar leaf of the defaults struct with viper,
// which is what lets AutomaticEnv override keys absent from the file.
func setDefaults(v *viper.Viper, prefix string, rv reflect.Value) {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		opts := strings.Split(f.Tag.Get("mapstructure"), ",")
		tag := opts[0]
		if len(opts) > 1 && opts[1] == "squash" && f.Type.Kind() == reflect.Struct {
			setDefaults(v, prefix, rv.Field(i)) // an embedded section's keys sit at this level
			continue
		}
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := rv.Field(i)
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			setDefaults(v, key, fv)
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}

func cleanDecodeError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	return strings.ReplaceAll(s, "\n", "; ")
}
