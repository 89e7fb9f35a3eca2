package compliance

import "time"

// Limits are the GB/T 18883-2022 indoor limits that apply at one moment.
type Limits struct {
	TempMin, TempMax         float64 // °C
	HumidityMin, HumidityMax float64 // % RH
	CO2Max                   float64 // ppm
	PM25Max                  float64 // µg/m³
	HCHOMax                  float64 // mg/m³
}

// Seasonal limits of GB/T 18883-2022.
var (
	HeatingLimits = Limits{TempMin: 16, TempMax: 24, HumidityMin: 30, HumidityMax: 60, CO2Max: 1000, PM25Max: 50, HCHOMax: 0.08}
	CoolingLimits = Limits{TempMin: 22, TempMax: 28, HumidityMin: 40, HumidityMax: 80, CO2Max: 1000, PM25Max: 50, HCHOMax: 0.08}
)

// DefaultLimits uses the heating-season limits from 15 November to
// 15 March (northern central heating) and the cooling-season limits
// otherwise. Regions with other dates plug their own func into Options.
func DefaultLimits(_ string, t time.Time) Limits {
	t = t.In(shanghai)
	m, d := t.Month(), t.Day()
	if m == time.December || m <= time.February || (m == time.November && d >= 15) || (m == time.March && d < 15) {
		return HeatingLimits
	}
	return CoolingLimits
}

// Within reports whether a one-minute mean of kind is within l. Unknown
// kinds are never within: a typo must not make a facility look compliant.
func (l Limits) Within(kind string, v float64) bool {
	switch kind {
	case "temperature":
		return v >= l.TempMin && v <= l.TempMax
	case "humidity":
		return v >= l.HumidityMin && v <= l.HumidityMax
	case "co2":
		return v <= l.CO2Max
	case "pm25":
		return v <= l.PM25Max
	case "hcho":
		return v <= l.HCHOMax
	}
	return false
}
