package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
)

// errSkipped marks a fault this machine cannot run (a tmpfs without root).
var errSkipped = errors.New("skipped")

// recoverWait bounds the wait for a part to be back after a fault.
const recoverWait = 90 * time.Second

// fault runs one fault through its duration and waits until the part it
// hit works again. The note says what happened.
func (r *run) fault(ctx context.Context, f Fault) (string, error) {
	fac := r.facilityByID(f.Target)
	switch f.Kind {
	case GatewayKill:
		r.down(ctx, fac.gateway, syscall.SIGKILL, f.For)
		return "SIGKILL", r.gatewayBack(ctx, fac)
	case PowerCut:
		return r.powerCut(ctx, fac, f)
	case LocalBrokerRestart:
		if fac.Layout == layoutEmbedded {
			// The broker is the gateway: a restart is a clean stop and start.
			r.down(ctx, fac.gateway, syscall.SIGTERM, f.For)
			return "gateway (embedded broker) stopped and started", r.gatewayBack(ctx, fac)
		}
		stopped := time.Now()
		fac.localBroker.Stop()
		if !sleep(ctx, f.For) {
			return "", ctx.Err()
		}
		if err := fac.localBroker.Start(); err != nil {
			return "", err
		}
		if err := waitListening(ctx, fac.localBroker.name, recoverWait, "127.0.0.1:"+strconv.Itoa(fac.localPort)); err != nil {
			return "", err
		}
		lag, err := r.localLinkBack(ctx, fac, stopped)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Mosquitto stopped and started; the gateway resubscribed %.1fs after the broker was back", lag.Seconds()), r.gatewayBack(ctx, fac)
	case CollectorKill:
		p := r.collectors[targetIndex(f.Target)-1]
		r.down(ctx, p, syscall.SIGKILL, f.For)
		return "SIGKILL", r.backReady(ctx, p, r.collectorHTTP[targetIndex(f.Target)-1])
	case AlertingKill:
		i := targetIndex(f.Target)
		r.down(ctx, r.alerting[i], syscall.SIGKILL, f.For)
		return "SIGKILL", r.backReady(ctx, r.alerting[i], r.alertHTTP[i])
	case InfluxStop:
		if err := r.influx.Stop(); err != nil {
			return "", err
		}
		if !sleep(ctx, f.For) {
			return "", ctx.Err()
		}
		return "stopped and started", r.influx.Restart(ctx)
	case CentreRestart, CentreStop:
		r.centre.proc.Stop()
		if !sleep(ctx, f.For) {
			return "", ctx.Err()
		}
		if err := r.centre.proc.Start(); err != nil {
			return "", err
		}
		return "stopped and started", waitListening(ctx, "centre broker", recoverWait, r.centre.tlsAddr(), r.centre.plainAddr())
	case UplinkCut:
		fac.uplink.Cut()
		if !sleep(ctx, f.For) {
			fac.uplink.Mend()
			return "", ctx.Err()
		}
		fac.uplink.Mend()
		return "cut and mended", nil
	case SpoolFull:
		if fac.disk == nil || !fac.disk.mounted {
			return "no tmpfs here", errSkipped
		}
		n, err := fac.disk.Fill()
		defer fac.disk.Free()
		if err != nil {
			return "", err
		}
		if !sleep(ctx, f.For) {
			return "", ctx.Err()
		}
		if err := fac.disk.Free(); err != nil {
			return "", err
		}
		return fmt.Sprintf("filled with %d MiB", n>>20), r.gatewayBack(ctx, fac)
	case MalformedFlood:
		n, _ := strconv.Atoi(f.Variant)
		return r.flood(ctx, fac, n)
	case HostileFacility:
		return r.attack(ctx, f.For)
	}
	return "", fmt.Errorf("unknown fault %q", f.Kind)
}

// down ends p with sig and keeps it down for the restart delay plus extra,
// then starts it again, as systemd would after a longer RestartSec.
func (r *run) down(ctx context.Context, p *proc, sig syscall.Signal, extra time.Duration) {
	p.mu.Lock()
	p.want = false
	p.mu.Unlock()
	if done, ok := p.Signal(sig, true); ok {
		select {
		case <-done:
		case <-time.After(stopGrace):
			p.Kill()
		}
	}
	sleep(ctx, r.opts.RestartSec+extra)
	if err := p.Start(); err != nil {
		r.log.Error("restart failed", "proc", p.name, "err", err)
	}
}

// powerCut signals the power-cut build, which exits with status 99 at the
// cut; then the power comes back after the restart delay plus For.
func (r *run) powerCut(ctx context.Context, fac *facility, f Fault) (string, error) {
	p := fac.gateway
	sig := syscall.SIGUSR1
	if strings.HasPrefix(f.Variant, "usr2") {
		sig = syscall.SIGUSR2
	}
	p.mu.Lock()
	p.want = false
	p.mu.Unlock()
	done, ok := p.Signal(sig, true)
	note := f.Variant
	if ok {
		select {
		case <-done:
			if e := p.lastExit(); e.Code != exitPowerCut {
				note += fmt.Sprintf(", exit status %d %s (want %d)", e.Code, e.Signal, exitPowerCut)
			}
		case <-time.After(30 * time.Second):
			note += ", no cut within 30 s: killed"
			p.Kill()
		}
	} else {
		note += ", gateway not running"
	}
	fac.cutDone()
	sleep(ctx, r.opts.RestartSec+f.For)
	if err := p.Start(); err != nil {
		return note, err
	}
	return note, r.gatewayBack(ctx, fac)
}

// exitPowerCut is the power-cut build's exit status at a cut.
const exitPowerCut = 99

func (p *proc) lastExit() exitRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exits) == 0 {
		return exitRecord{}
	}
	return p.exits[len(p.exits)-1]
}

// killAtSend arms the provider: the first SMS to a facility the target
// instance owns gets its instance killed with SIGKILL after the provider
// took it and before it answers: after the restart the instance must ask
// the provider and not send it again (docs/alerting.md, "Deliveries in
// doubt").
func (r *run) killAtSend(ctx context.Context, f Fault) doneFault {
	i := targetIndex(f.Target)
	phones := map[string]bool{}
	for _, fac := range r.facilities {
		if fac.Shard == i {
			phones[fac.Phone] = true
		}
	}
	d := doneFault{Fault: f, Start: time.Now()}
	var once sync.Once
	fired := make(chan fakealiyun.Call, 1)
	r.provider.SetBefore(func(c fakealiyun.Call) {
		if c.Action != fakealiyun.ActionSMS || !phones[c.Phone] {
			return
		}
		once.Do(func() {
			r.alerting[i].Kill() // the supervisor starts it again after RestartSec
			fired <- c
		})
	})
	defer r.provider.SetBefore(nil)
	select {
	case c := <-fired:
		d.Note = fmt.Sprintf("killed as the provider took %s %s to %s (code %s)", c.Action, c.Template, maskPhone(c.Phone), c.Params["code"])
		d.Start = c.At
		d.Err = errString(r.backReady(ctx, r.alerting[i], r.alertHTTP[i]))
	case <-time.After(f.For):
		d.Note = fmt.Sprintf("no SMS to a facility of %s within %v: not triggered", f.Target, f.For)
		d.Skipped = true
	case <-ctx.Done():
	}
	d.End = time.Now()
	r.printf("chaos: %6.1fs %-22s %-16s %s\n", d.Start.Sub(r.start).Seconds(), f.Kind, f.Target, d.Note)
	return d
}

// gatewayBack waits until a facility's gateway answers /readyz (it is
// connected to its local broker).
// localLinkBack waits until the gateway's subscriber is connected to its
// local Mosquitto again and records the span from stopped as one in which
// the gateway was away: readings published then wait in Mosquitto's queue
// and are dated when Mosquitto delivers them (docs/wire.md, "Time"). It
// returns how long after the broker listened again the gateway was back.
func (r *run) localLinkBack(ctx context.Context, f *facility, stopped time.Time) (time.Duration, error) {
	listening := time.Now()
	deadline := listening.Add(recoverWait)
	for {
		// The gauge reads 1 only after the subscriber's session and
		// subscriptions are back; a scrape error (the gateway itself
		// restarting) counts as not yet.
		if v, err := metrics(f.httpAddr, "cw_gateway_local_connected"); err == nil && v == 1 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: not subscribed to its local broker %v after the broker's restart", f.ID, recoverWait)
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
	back := time.Now()
	f.linkMu.Lock()
	f.linkDown = append(f.linkDown, interval{Start: stopped, End: back})
	f.linkMu.Unlock()
	return back.Sub(listening), nil
}

func (r *run) gatewayBack(ctx context.Context, f *facility) error {
	return r.backReady(ctx, f.gateway, f.httpAddr)
}

func (r *run) backReady(ctx context.Context, p *proc, addr string) error {
	if err := waitReady(ctx, p.name, addr, recoverWait); err != nil {
		return fmt.Errorf("%w; log:\n%s", err, tail(p.logPath, 20))
	}
	return nil
}

// recoverAll makes sure every part runs after the schedule: the faults
// restore what they break, this catches one that ended early.
func (r *run) recoverAll(ctx context.Context) {
	for _, p := range r.procs {
		if err := p.Start(); err != nil {
			r.log.Error("start after the schedule", "proc", p.name, "err", err)
		}
	}
	if !r.influx.Running() {
		if err := r.influx.Restart(ctx); err != nil {
			r.log.Error("influxd after the schedule", "err", err)
		}
	}
	for _, f := range r.facilities {
		f.uplink.Mend()
		if f.disk != nil {
			_ = f.disk.Free()
		}
		_ = r.gatewayBack(ctx, f)
	}
}

// targetIndex is N of "collector-N" or "alerting-N".
func targetIndex(t string) int {
	n, _ := strconv.Atoi(t[strings.LastIndexByte(t, '-')+1:])
	return n
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// maskPhone shows a phone number as the services log it (138****1234).
func maskPhone(p string) string {
	if len(p) < 7 {
		return "****"
	}
	return p[:3] + "****" + p[len(p)-4:]
}
