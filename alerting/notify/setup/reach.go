package setup

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// MinCriticalChannels is how many channels every recipient of critical
// alerts must have: one provider's outage, or a spent budget, must not
// leave a smoke alarm with nowhere to go.
const MinCriticalChannels = 2

// Unreachable is a recipient of critical alerts with too few channels.
type Unreachable struct {
	ID, Name string
	Channels []notify.Channel
}

// Channels lists the channels that can reach ct with this configuration:
// a phone is SMS when an SMS provider is set and voice when a voice
// provider is; e-mail needs a relay; robots and webhooks need their URL.
func (c Config) Channels(ct notify.Contact) []notify.Channel {
	var out []notify.Channel
	if ct.Phone != "" && len(c.smsProviders()) > 0 {
		out = append(out, notify.ChannelSMS)
	}
	if ct.Phone != "" && c.voice() {
		out = append(out, notify.ChannelVoice)
	}
	for _, ch := range []notify.Channel{notify.ChannelDingTalk, notify.ChannelWeCom, notify.ChannelWebhook} {
		if ct.Has(ch) {
			out = append(out, ch)
		}
	}
	if ct.Email != "" && c.Email.Addr != "" {
		out = append(out, notify.ChannelEmail)
	}
	return out
}

// Unreachable lists the recipients of critical alerts in dir that have
// fewer than MinCriticalChannels channels: the operators (when the
// critical policy reaches them), every street office (a gateway offline
// in opening hours and an operator's failed SMS reach it at once), and the
// offices of the other levels the critical policy names.
func (c Config) Unreachable(dir notify.Directory) []Unreachable {
	targets := map[notify.Target]bool{notify.TargetStreet: true}
	for _, st := range c.Config.WithDefaults().Policies["critical"].Steps {
		for _, t := range st.Targets {
			targets[t] = true
		}
	}
	levels := map[model.RegionLevel]notify.Target{model.LevelStreet: notify.TargetStreet, model.LevelCounty: notify.TargetCounty,
		model.LevelCity: notify.TargetCity, model.LevelProvince: notify.TargetProvince}
	var out []Unreachable
	seen := map[string]bool{}
	check := func(cs []notify.Contact) {
		for _, ct := range cs {
			id := ct.ID
			if id == "" {
				id = ct.Name
			}
			if chs := c.Channels(ct); len(chs) < MinCriticalChannels && !seen[id] {
				seen[id] = true
				out = append(out, Unreachable{ID: id, Name: ct.Name, Channels: chs})
			}
		}
	}
	if targets[notify.TargetOperator] {
		for _, f := range slices.Sorted(maps.Keys(dir.Operators)) {
			check(dir.Operators[f])
		}
	}
	for _, code := range slices.Sorted(maps.Keys(dir.Regions)) {
		rc, err := model.ParseRegionCode(code)
		if err == nil && targets[levels[rc.Level()]] {
			check(dir.Regions[code])
		}
	}
	return out
}

// CheckReach fails, naming them, when recipients of critical alerts have
// fewer than MinCriticalChannels channels. dir must hold every operator,
// those of the facility files included.
func (c Config) CheckReach(dir notify.Directory) error {
	bad := c.Unreachable(dir)
	if len(bad) == 0 {
		return nil
	}
	var names []string
	for _, u := range bad {
		chs := make([]string, len(u.Channels))
		for i, ch := range u.Channels {
			chs[i] = string(ch)
		}
		have := "no channel"
		if len(chs) > 0 {
			have = strings.Join(chs, ", ") + " only"
		}
		names = append(names, fmt.Sprintf("%s %s (%s)", u.ID, u.Name, have))
	}
	return config.Errorf("directory", "%d recipient(s) of critical alerts have fewer than %d channels (a phone counts as SMS, and as voice when voice_provider is set; add dingtalk, wecom, webhook or email): %s",
		len(bad), MinCriticalChannels, strings.Join(names, "; "))
}
