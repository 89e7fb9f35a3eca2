package simulator

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Payloads as the devices publish them. Field sets and key names follow the
// Zigbee2MQTT exposes of the modelled devices (an Aqara-style
// temperature/humidity sensor, the Tuya TS0601_smart_air_house_keeper, a
// Zigbee door contact) and Tasmota's AM2301 driver; the NVR agent's
// heartbeat is the project's own format.

// z2mTH is a Zigbee temperature/humidity sensor's state.
type z2mTH struct {
	Battery     int     `json:"battery"`
	Humidity    float64 `json:"humidity"`
	LinkQuality int     `json:"linkquality"`
	Temperature float64 `json:"temperature"`
}

// z2mAir is the air-quality box's state. formaldehyd (sic) is in mg/m³,
// pm25 in µg/m³, co2 in ppm and voc in µg/m³, the units of Zigbee2MQTT's
// generic exposes (some device definitions say ppb for voc; the gateway's
// voc_unit default is µg/m³).
type z2mAir struct {
	CO2         int     `json:"co2"`
	Formaldehyd float64 `json:"formaldehyd"`
	Humidity    float64 `json:"humidity"`
	LinkQuality int     `json:"linkquality"`
	PM25        int     `json:"pm25"`
	Temperature float64 `json:"temperature"`
	VOC         int     `json:"voc"`
}

// z2mContact is a door contact's state; Contact true means closed.
type z2mContact struct {
	Battery     int  `json:"battery"`
	BatteryLow  bool `json:"battery_low"`
	Contact     bool `json:"contact"`
	LinkQuality int  `json:"linkquality"`
	Tamper      bool `json:"tamper"`
}

// z2mAvailability is the retained availability message.
type z2mAvailability struct {
	State string `json:"state"`
}

// tasmotaSensor is tele/<topic>/SENSOR of a Tasmota with an AM2301. Tasmota
// prints values with its configured resolution (one decimal by default),
// so they are json.Numbers, and Time is local time without a zone.
type tasmotaSensor struct {
	Time     string    `json:"Time"`
	AM2301   tasmotaTH `json:"AM2301"`
	TempUnit string    `json:"TempUnit"`
}

type tasmotaTH struct {
	Temperature json.Number `json:"Temperature"`
	Humidity    json.Number `json:"Humidity"`
	DewPoint    json.Number `json:"DewPoint"`
}

// tasmotaTime is the layout of Tasmota's "Time".
const tasmotaTime = "2006-01-02T15:04:05"

// cameraHeartbeat is the NVR agent's heartbeat for one camera.
type cameraHeartbeat struct {
	Online        bool   `json:"online"`
	Recording     bool   `json:"recording"`
	RetentionDays int    `json:"retention_days"`
	Time          string `json:"time"`
}

// Topics.
func z2mTopic(name string) string             { return "zigbee2mqtt/" + name }
func z2mAvailabilityTopic(name string) string { return "zigbee2mqtt/" + name + "/availability" }
func tasmotaSensorTopic(topic string) string  { return "tele/" + topic + "/SENSOR" }
func tasmotaLWTTopic(topic string) string     { return "tele/" + topic + "/LWT" }
func cameraTopic(camera string) string        { return "cw/local/camera/" + camera + "/heartbeat" }

// tasmotaOnline is Tasmota's retained LWT payload while connected (plain
// text, not JSON).
const tasmotaOnline = "Online"

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func fixed(v float64, decimals int) json.Number {
	return json.Number(strconv.FormatFloat(v, 'f', decimals, 64))
}

func encodeTasmota(local time.Time, temp, rh float64) ([]byte, error) {
	return json.Marshal(tasmotaSensor{
		Time: local.Format(tasmotaTime),
		AM2301: tasmotaTH{
			Temperature: fixed(temp, 1),
			Humidity:    fixed(rh, 1),
			DewPoint:    fixed(dewPoint(temp, rh), 1),
		},
		TempUnit: "C",
	})
}
