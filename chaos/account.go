package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
)

// Bounds of the wait for the system to drain after the load stopped.
const (
	drainWait   = 5 * time.Minute
	drainStable = 10 * time.Second // counts unchanged this long: nothing more is on its way
	notifyWait  = 3 * time.Minute
	faultLead   = 2 * time.Second // readings published this long before a fault count as hit by it
	faultTrail  = 5 * time.Second // and this long after it ended
	killNear    = 5 * time.Second // a kill this soon after an SMS is named beside its second copy
)

// account drains the system, reads back what it stored and notified, and
// builds the report.
func (r *run) account(ctx context.Context, s Schedule) (*Report, error) {
	r.printf("chaos: draining\n")
	accepted := map[string]int{}
	for _, f := range r.facilities {
		readings, _ := f.sensor.snapshot()
		for _, rd := range readings {
			if rd.ack.Load() != 0 {
				accepted[f.ID]++
			}
		}
	}
	r.waitStored(ctx, accepted)
	r.waitNotified(ctx)
	rep := &Report{Seed: r.opts.Seed, Duration: r.opts.Duration, Rate: r.opts.Rate, Facilities: len(r.facilities), Devices: r.opts.Devices,
		Started: r.start, Dir: r.dir}
	r.journal.mu.Lock()
	faults := slices.Clone(r.journal.faults)
	incidents := slices.Clone(r.journal.incidents)
	r.journal.mu.Unlock()
	slices.SortFunc(faults, func(a, b doneFault) int { return a.Start.Compare(b.Start) })
	slices.SortFunc(incidents, func(a, b doneIncident) int { return int(a.At - b.At) })
	rep.Faults = faults
	if err := r.accountReadings(ctx, rep, faults); err != nil {
		return nil, err
	}
	if err := r.accountAlerts(ctx, rep, faults, incidents); err != nil {
		return nil, err
	}
	rep.Hostile = r.hostileResults
	for _, p := range r.procs {
		rep.Processes = append(rep.Processes, p.stats())
	}
	r.rssMu.Lock()
	for name, v := range r.extraRSS {
		rep.Processes = append(rep.Processes, procStats{Name: name, PeakRSS: v})
	}
	r.rssMu.Unlock()
	rep.finish()
	rep.Print(r.out)
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		_ = writeFile(filepath.Join(r.dir, "report.json"), b)
	}
	return rep, nil
}

// waitStored waits until InfluxDB holds at least each facility's accepted
// readings and its counts stopped changing (or drainWait passed).
func (r *run) waitStored(ctx context.Context, accepted map[string]int) {
	end := time.Now().Add(drainWait)
	last := map[string]int64{}
	stableSince := time.Now()
	for {
		done := true
		changed := false
		for _, f := range r.facilities {
			n, err := r.influx.Count(ctx, "cradlewatch", fmt.Sprintf(`SELECT count(value) FROM co2 WHERE facility = '%s' AND value > 0 AND value < %d`, f.ID, maxSeq+1))
			if err != nil {
				done = false
				continue
			}
			if n != last[f.ID] {
				changed = true
				last[f.ID] = n
			}
			if n < int64(accepted[f.ID]) {
				done = false
			}
		}
		if changed {
			stableSince = time.Now()
		}
		if done && time.Since(stableSince) >= drainStable || time.Now().After(end) || ctx.Err() != nil {
			return
		}
		sleep(ctx, time.Second)
	}
}

// waitNotified waits until no alerting instance has notices left to send.
func (r *run) waitNotified(ctx context.Context) {
	end := time.Now().Add(notifyWait)
	for time.Now().Before(end) && ctx.Err() == nil {
		idle := true
		for _, addr := range r.alertHTTP {
			n, err := metrics(addr, "cw_alerting_notify_pending_notices")
			if err != nil || n > 0 {
				idle = false
			}
		}
		if idle {
			return
		}
		sleep(ctx, time.Second)
	}
}

// readingOutcome is what became of one accepted or stored reading.
type readingOutcome struct {
	accepted, stored, lost, duplicated, redated, delivered bool
}

// accountReadings reads every facility's readings back from InfluxDB and
// classifies each published reading.
func (r *run) accountReadings(ctx context.Context, rep *Report, faults []doneFault) error {
	lead := int64(gateway.DefaultStampLead / time.Millisecond)
	rows := map[string]*Counts{}
	row := func(name string) *Counts {
		if rows[name] == nil {
			rows[name] = &Counts{Name: name}
		}
		return rows[name]
	}
	for _, f := range r.facilities {
		readings, _ := f.sensor.snapshot()
		stored, err := r.storedTimes(ctx, f)
		if err != nil {
			return err
		}
		published := map[[2]int32]*reading{}
		for _, rd := range readings {
			published[[2]int32{int32(rd.dev), rd.seq}] = rd
		}
		for key, times := range stored {
			if published[key] == nil {
				rep.Phantoms = append(rep.Phantoms, fmt.Sprintf("%s %s value %d stored at %d time(s), never published", f.ID, f.Devices[key[0]].ID, key[1], len(times)))
			}
		}
		down := r.localDown(f)
		for _, rd := range readings {
			times := stored[[2]int32{int32(rd.dev), rd.seq}]
			ack := rd.ack.Load()
			o := readingOutcome{accepted: ack != 0, stored: len(times) > 0, duplicated: len(times) > 1}
			o.lost = o.accepted && !o.stored
			for _, ms := range times {
				switch {
				case rd.timed:
					o.redated = o.redated || ms != rd.stampMs
				case !o.accepted:
					// No PUBACK, no upper bound: only the lower one holds.
					o.redated = o.redated || ms < rd.pub/1e6
				case ms < rd.pub/1e6 || ms > ack/1e6+lead:
					if f.Layout == layoutMosquitto && explainedByDown(down, ack, ms) {
						o.delivered = true
					} else {
						o.redated = true
					}
				}
			}
			if o.redated && len(rep.Examples) < 20 {
				rep.Examples = append(rep.Examples, fmt.Sprintf("re-dated: %s %s #%d timed=%v published %s, PUBACK %s, stored at %v",
					f.ID, f.Devices[rd.dev].ID, rd.seq, rd.timed, clock(rd.pub), clock(ack), msTimes(times)))
			}
			if o.lost && len(rep.Examples) < 20 {
				rep.Examples = append(rep.Examples, fmt.Sprintf("lost: %s %s #%d timed=%v published %s, PUBACK %s",
					f.ID, f.Devices[rd.dev].ID, rd.seq, rd.timed, clock(rd.pub), clock(ack)))
			}
			if o.duplicated && len(rep.Examples) < 20 {
				rep.Examples = append(rep.Examples, fmt.Sprintf("duplicated: %s %s #%d timed=%v published %s, PUBACK %s, stored at %v",
					f.ID, f.Devices[rd.dev].ID, rd.seq, rd.timed, clock(rd.pub), clock(ack), msTimes(times)))
			}
			pub := time.Unix(0, rd.pub)
			row("all").add(o)
			row(layoutRow(f.Layout, rd.timed)).add(o)
			hit := false
			for _, k := range FaultKinds {
				for _, d := range faults {
					if d.Kind == k && !d.Skipped && (d.Kind.global() || d.Target == f.ID) &&
						!pub.Before(d.Start.Add(-faultLead)) && !pub.After(d.End.Add(faultTrail)) {
						row(string(k)).add(o)
						hit = true
						break
					}
				}
			}
			if !hit {
				row("no fault").add(o)
			}
		}
		n, err := r.influx.Count(ctx, "cradlewatch", fmt.Sprintf(`SELECT count(value) FROM co2 WHERE facility = '%s' AND device = '%s'`, f.ID, deviceFlood))
		if err != nil {
			return err
		}
		rep.Forged += int(n)
	}
	for _, name := range append(append([]string{"all"}, layoutRows()...), append(kindNames(), "no fault")...) {
		if c := rows[name]; c != nil {
			rep.Readings = append(rep.Readings, *c)
		}
	}
	return nil
}

// storedTimes reads a facility's stored readings: per (device index,
// value) the times (Unix ms) it is stored at.
func (r *run) storedTimes(ctx context.Context, f *facility) (map[[2]int32][]int64, error) {
	out := map[[2]int32][]int64{}
	for i, d := range f.Devices {
		res, err := r.influx.Query(ctx, "cradlewatch", fmt.Sprintf(`SELECT value FROM co2 WHERE facility = '%s' AND device = '%s' AND value > 0`, f.ID, d.ID))
		if err != nil {
			return nil, fmt.Errorf("chaos: read back %s %s: %w", f.ID, d.ID, err)
		}
		for _, s := range res {
			for _, v := range s.Values {
				ns, err1 := v[0].(json.Number).Int64()
				val, err2 := v[1].(json.Number).Float64()
				if err1 != nil || err2 != nil {
					continue
				}
				key := [2]int32{int32(i), int32(val)}
				out[key] = append(out[key], ns/1e6)
			}
		}
	}
	return out, nil
}

// localDown lists when a facility's gateway could not read its local
// broker: the gateway or its Mosquitto was not running.
func (r *run) localDown(f *facility) []interval {
	down := f.gateway.stats().Down
	if f.localBroker != nil {
		down = append(down, f.localBroker.stats().Down...)
	}
	f.linkMu.Lock()
	down = append(down, f.linkDown...)
	f.linkMu.Unlock()
	return down
}

// explainedByDown reports whether a reading PUBACKed by Mosquitto at ack
// (ns) and dated at ms waited in Mosquitto's queue through an outage of
// the gateway's local link: one of down overlaps [ack, ms].
func explainedByDown(down []interval, ack, ms int64) bool {
	from, to := time.Unix(0, ack), time.UnixMilli(ms)
	for _, iv := range down {
		if iv.overlaps(from, to) {
			return true
		}
	}
	return false
}

func layoutRow(layout string, timed bool) string {
	if timed {
		return layout + ", timed"
	}
	return layout + ", untimed"
}

func layoutRows() []string {
	return []string{layoutRow(layoutMosquitto, true), layoutRow(layoutMosquitto, false), layoutRow(layoutEmbedded, true), layoutRow(layoutEmbedded, false)}
}

func kindNames() []string {
	out := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		out[i] = string(k)
	}
	return out
}

// accountAlerts compares the scripted incidents with the alerts the
// instances recorded and the provider's requests.
func (r *run) accountAlerts(ctx context.Context, rep *Report, faults []doneFault, incidents []doneIncident) error {
	calls := r.provider.Calls()
	rep.Calls = len(calls)
	for _, c := range calls {
		if c.Action == fakealiyun.ActionVoice {
			rep.VoiceCalls++
		}
	}
	for _, d := range incidents {
		f := r.facilityByID(d.Facility)
		room, device, roomName := roomKitchen, deviceSmoke, "厨房"
		if d.Kind == IncidentDoor {
			room, device, roomName = roomEntrance, deviceDoor, "门厅"
		}
		res := IncidentResult{Incident: d.Incident, Start: d.On.Pub, End: d.Off.Pub}
		hist, err := alertHistory(filepath.Join(r.dir, fmt.Sprintf("alerting-%d", f.Shard), "state"), d.Rule(), f.ID, room, device)
		if err != nil {
			return err
		}
		on, off := time.UnixMilli(d.On.StampMs), time.UnixMilli(d.Off.StampMs)
		for _, t := range hist {
			if t.To == rules.Firing && !t.At.Before(on) && (d.Off.StampMs == 0 || t.At.Before(off)) {
				res.Fired = true
			}
			if t.To == rules.Resolved && d.Off.StampMs != 0 && !t.At.Before(off) {
				res.Resolved = true
			}
		}
		// Its firing SMS: the first to the operator about its room after
		// the alarm; the codes it carries name the episode.
		var codes []string
		for _, c := range calls {
			if c.OK && c.Action == fakealiyun.ActionSMS && c.Phone == f.Phone && c.Template == tmplFiring &&
				c.Params[notify.ParamRoom] == roomName && !c.At.Before(d.On.Pub) {
				codes = c.Codes()
				res.FiringAt = c.At
				break
			}
		}
		for _, c := range calls {
			if c.OK && c.Action == fakealiyun.ActionSMS && c.Phone == f.Phone && overlap(c.Codes(), codes) {
				switch c.Template {
				case tmplFiring:
					res.FiringSMS++
				case tmplResolved:
					res.ResolvedSMS++
					if res.ResolvedAt.IsZero() {
						res.ResolvedAt = c.At
					}
				}
			}
		}
		for _, fd := range faults {
			if !fd.Skipped && (fd.Kind.global() || fd.Target == f.ID) && !fd.End.Before(d.On.Pub) && !fd.Start.After(d.Off.Pub) {
				res.Overlaps = append(res.Overlaps, string(fd.Kind))
			}
		}
		rep.Incidents = append(rep.Incidents, res)
	}
	// Every (number, template, code) delivered more than once.
	shardOfPhone := map[string]int{}
	for _, f := range r.facilities {
		shardOfPhone[f.Phone] = f.Shard
	}
	type key struct{ phone, template, code string }
	seen := map[key][]fakealiyun.Call{}
	for _, c := range calls {
		if !c.OK || c.Action != fakealiyun.ActionSMS || c.Template == tmplReminder {
			continue
		}
		for _, code := range c.Codes() {
			k := key{c.Phone, c.Template, code}
			seen[k] = append(seen[k], c)
		}
	}
	for k, cs := range seen {
		if len(cs) < 2 {
			continue
		}
		d := DuplicateSMS{Phone: maskPhone(k.phone), Template: k.template, Code: k.code, Copies: len(cs), First: cs[0].At, Last: cs[len(cs)-1].At}
		shard, known := shardOfPhone[k.phone]
		if kill, ok := r.killBetween(shard, known, cs[0].At, cs[1].At, faults); ok {
			d.NearKill = kill
		}
		rep.Duplicates = append(rep.Duplicates, d)
	}
	slices.SortFunc(rep.Duplicates, func(a, b DuplicateSMS) int { return a.First.Compare(b.First) })
	rep.OrderProblems = fakealiyun.OrderProblems(calls, tmplResolved)
	for i := range r.alerting {
		es, err := notify.ReadLog(filepath.Join(r.dir, fmt.Sprintf("alerting-%d", i), "notify", notify.LogFile))
		if err != nil && len(es) == 0 {
			continue // an instance that never sent has no log
		}
		for _, e := range es {
			if e.Outcome == notify.OutcomeSent && e.Detail == notify.DetailConfirmed {
				rep.Confirmed++
			}
		}
	}
	return nil
}

// killBetween finds an alerting instance's end (a kill the schedule made,
// or an exit of its own) after the first copy of an SMS was taken by the
// provider, within killNear, and before the second copy: where to look
// for a delivery in doubt that was sent again. known says whether shard is the instance
// that sends to the number (else any instance counts).
func (r *run) killBetween(shard int, known bool, first, second time.Time, faults []doneFault) (string, bool) {
	for i, p := range r.alerting {
		if known && i != shard {
			continue
		}
		p.mu.Lock()
		exits := slices.Clone(p.exits)
		p.mu.Unlock()
		for _, e := range exits {
			if !e.At.Before(first) && e.At.Sub(first) <= killNear && e.At.Before(second) {
				why := "exit"
				for _, fd := range faults {
					if (fd.Kind == AlertingKill || fd.Kind == AlertingKillAtSend) && fd.Target == p.name && !e.At.Before(fd.Start) && !e.At.After(fd.End) {
						why = string(fd.Kind)
					}
				}
				return fmt.Sprintf("%s of %s at %s, %s after the first copy", why, p.name, e.At.Format("15:04:05.000"), e.At.Sub(first).Round(time.Millisecond)), true
			}
		}
	}
	return "", false
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func clock(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Format("15:04:05.000")
}

func msTimes(ms []int64) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = time.UnixMilli(m).Format("15:04:05.000")
	}
	return out
}
