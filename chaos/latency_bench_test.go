package chaos

import (
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// BenchmarkAlarmLatency measures how long a smoke alarm takes from the
// sensor to the operator's phone, on the real parts of a chaos run
// without its faults: Zigbee2MQTT publishes on the facility's Mosquitto or
// the gateway's embedded broker (two facilities of each), the gateway
// (ordinary build, spool on the disk) sends it on the urgent lane through
// the centre's Mosquitto as deploy/ configures it (TLS, identities, the log
// watcher), two collectors store and two alerting instances judge every
// batch, and the owning instance asks the fake Aliyun provider to send the
// SMS. Meanwhile 100 sensors publish 5,000 readings a second (CW_ALARM_RATE
// to change it).
//
// One operation is one alarm: the detector goes off, the time until the
// provider's HTTP request for the operator's SMS is taken, then it clears
// and the resolution SMS is awaited before the next. The figures are
// p50-ms and p99-ms over all alarms, and per local layout.
//
//	go test -run '^$' -bench AlarmLatency -benchtime 200x ./chaos/
func BenchmarkAlarmLatency(b *testing.B) {
	testenv.MosquittoBinary(b)
	testenv.DynsecPlugin(b)
	root, err := influxd.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := influxd.Binary(b.Context(), root)
	if err != nil {
		b.Skipf("integration benchmark: %v", err)
	}
	o := Options{Root: root, Influxd: bin, Facilities: 4, Devices: 25, Rate: 5000, Dir: b.TempDir(), Out: io.Discard}
	if n, err := strconv.Atoi(os.Getenv("CW_ALARM_RATE")); err == nil {
		o.Rate = n
	}
	if err := o.setDefaults(); err != nil {
		b.Fatal(err)
	}
	r, err := newRun(b.Context(), o)
	defer r.close()
	if err != nil {
		b.Fatal(err)
	}
	r.facilities, r.hostile = planFacilities(o.Facilities, o.Devices)
	for _, f := range r.facilities {
		// The ordinary build on the real disk: the power-cut build does
		// not fsync, and a tmpfs answers fsync for free.
		f.PowerCut, f.Tmpfs = false, false
	}
	if err := r.setUp(b.Context()); err != nil {
		b.Fatal(err)
	}
	sms := make(chan fakealiyun.Call, 64)
	r.provider.SetBefore(func(c fakealiyun.Call) {
		if c.Action == fakealiyun.ActionSMS {
			sms <- c
		}
	})
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for _, f := range r.facilities {
			f.sensor.loopWG.Wait()
		}
	}()
	r.start = time.Now()
	for _, f := range r.facilities {
		f.sensor.run(float64(o.Rate)/float64(len(r.facilities)), stop)
	}
	time.Sleep(5 * time.Second) // the load at its rate, the gateways' batches flowing

	// await takes the provider's requests until one to phone of template
	// after from arrives.
	await := func(phone, template string, from time.Time, codes []string) fakealiyun.Call {
		deadline := time.After(60 * time.Second)
		for {
			select {
			case c := <-sms:
				if c.Phone == phone && c.Template == template && !c.At.Before(from) && (codes == nil || overlap(c.Codes(), codes)) {
					return c
				}
			case <-deadline:
				b.Fatalf("no %s to %s within a minute; provider requests:\n%s", template, maskPhone(phone), r.provider.Dump())
			}
		}
	}
	byLayout := map[string][]time.Duration{}
	var all []time.Duration
	published := func() int {
		n := 0
		for _, f := range r.facilities {
			rs, _ := f.sensor.snapshot()
			n += len(rs)
		}
		return n
	}
	loadFrom, loadStart := published(), time.Now()
	i := 0
	for b.Loop() {
		f := r.facilities[i%len(r.facilities)]
		i++
		on := f.sensor.alarm(IncidentSmoke, true)
		c := await(f.Phone, tmplFiring, on.Pub, nil)
		d := c.At.Sub(on.Pub)
		all = append(all, d)
		byLayout[f.Layout] = append(byLayout[f.Layout], d)
		off := f.sensor.alarm(IncidentSmoke, false)
		await(f.Phone, tmplResolved, off.Pub, c.Codes())
	}
	b.StopTimer()
	load := float64(published()-loadFrom) / time.Since(loadStart).Seconds()
	b.ReportMetric(percentile(all, 50), "p50-ms")
	b.ReportMetric(percentile(all, 99), "p99-ms")
	b.ReportMetric(percentile(all, 100), "max-ms")
	for _, l := range []string{layoutMosquitto, layoutEmbedded} {
		b.ReportMetric(percentile(byLayout[l], 50), "p50-"+l+"-ms")
		b.ReportMetric(percentile(byLayout[l], 99), "p99-"+l+"-ms")
	}
	b.ReportMetric(load, "load-readings/s")
}

// percentile is the p-th percentile of ds in milliseconds (nearest rank).
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.999999) - 1
	k = max(0, min(k, len(s)-1))
	return float64(s[k]) / float64(time.Millisecond)
}
