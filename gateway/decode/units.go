package decode

import (
	"fmt"
	"strings"

	"github.com/cradlewatch/cradlewatch/model"
)

// Molar volume of an ideal gas at 25 °C and 101.325 kPa, in litres per mole:
// the reference conditions under which ppm and mg/m³ are usually converted
// (mg/m³ = ppm × M / 24.45).
const molarVolume = 24.45

// MolarMassHCHO is formaldehyde's molar mass in g/mol, used when an HCHO
// sensor reports ppb or ppm.
const MolarMassHCHO = 30.03

// linear is a unit conversion: canonical = raw*Scale + Offset.
type linear struct {
	Scale, Offset float64
}

var identity = linear{Scale: 1}

func (l linear) apply(v float64) float64 { return v*l.Scale + l.Offset }

// then composes: first l, then m.
func (l linear) then(m linear) linear {
	return linear{Scale: l.Scale * m.Scale, Offset: l.Offset*m.Scale + m.Offset}
}

// canonicalUnit folds the spellings of a unit found in device docs and
// configs ("°C", "C", "degC"; "µg/m³" with micro sign or Greek mu, "ug/m3")
// into one token.
func canonicalUnit(u string) string {
	s := strings.ToLower(strings.TrimSpace(u))
	s = strings.NewReplacer("µ", "u", "μ", "u", "³", "3", "°", "", "deg", "", " ", "").Replace(s)
	switch s {
	case "c", "celsius":
		return "C"
	case "f", "fahrenheit":
		return "F"
	case "k", "kelvin":
		return "K"
	case "%", "%rh", "percent", "pct":
		return "%"
	case "ppm":
		return "ppm"
	case "ppb":
		return "ppb"
	case "%vol", "vol%":
		return "%vol"
	case "ug/m3":
		return "ug/m3"
	case "mg/m3":
		return "mg/m3"
	}
	return s
}

// conversion returns the conversion of unit u to kind's canonical unit.
// An empty unit means "already canonical". molarMass (g/mol) is needed
// only between ppm/ppb and mg/m³; 0 means the kind's default if it has one.
func conversion(kind model.Kind, u string, molarMass float64) (linear, error) {
	if u == "" {
		return identity, nil
	}
	cu := canonicalUnit(u)
	switch kind {
	case model.KindTemperature:
		switch cu {
		case "C":
			return identity, nil
		case "F":
			return linear{Scale: 5.0 / 9, Offset: -32 * 5.0 / 9}, nil
		case "K":
			return linear{Scale: 1, Offset: -273.15}, nil
		}
	case model.KindHumidity, model.KindBattery:
		if cu == "%" {
			return identity, nil
		}
	case model.KindCO2:
		switch cu {
		case "ppm":
			return identity, nil
		case "ppb":
			return linear{Scale: 1e-3}, nil
		case "%vol", "%":
			return linear{Scale: 1e4}, nil
		}
	case model.KindPM25, model.KindPM10:
		switch cu {
		case "ug/m3":
			return identity, nil
		case "mg/m3":
			return linear{Scale: 1e3}, nil
		}
	case model.KindHCHO, model.KindTVOC:
		if kind == model.KindHCHO && molarMass == 0 {
			molarMass = MolarMassHCHO
		}
		switch cu {
		case "mg/m3":
			return identity, nil
		case "ug/m3":
			return linear{Scale: 1e-3}, nil
		case "ppm", "ppb":
			if molarMass <= 0 {
				return linear{}, fmt.Errorf("unit %q needs molar_mass (g/mol) to convert to %s", u, kind.Unit())
			}
			s := molarMass / molarVolume // ppm → mg/m³
			if cu == "ppb" {
				s /= 1000
			}
			return linear{Scale: s}, nil
		}
	case model.KindCameraLatency:
		switch cu {
		case "s":
			return identity, nil
		case "ms":
			return linear{Scale: 1e-3}, nil
		}
	}
	if canonicalUnit(kind.Unit()) == cu {
		return identity, nil
	}
	return linear{}, fmt.Errorf("unit %q cannot be converted to %s (%s)", u, kind.Unit(), kind)
}
