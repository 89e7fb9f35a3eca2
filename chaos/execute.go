package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// journal is what the run did, with wall times.
type journal struct {
	mu        sync.Mutex
	faults    []doneFault
	incidents []doneIncident
}

// doneFault is a fault as it ran.
type doneFault struct {
	Fault
	Start, End time.Time // End: the fault was over and the system recovered (or the wait for it gave up)
	Note       string
	Err        string
	Skipped    bool
}

// doneIncident is an incident as it ran: the alarm and its clearing as the
// sensor published them.
type doneIncident struct {
	Incident
	On, Off alarmPublish
}

func (j *journal) addFault(d doneFault) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.faults = append(j.faults, d)
}

func (j *journal) addIncident(d doneIncident) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.incidents = append(j.incidents, d)
}

// warmUp sets every alarm device to its quiet state and publishes readings
// that are not counted until each facility's reach InfluxDB: then each
// gateway is subscribed (its session at the local broker exists) and the
// path to the database works.
func (r *run) warmUp(ctx context.Context) error {
	for _, f := range r.facilities {
		f.sensor.alarm(IncidentSmoke, false)
		f.sensor.alarm(IncidentDoor, false)
	}
	end := time.Now().Add(2 * time.Minute)
	for _, f := range r.facilities {
		q := fmt.Sprintf(`SELECT count(value) FROM co2 WHERE facility = '%s'`, f.ID)
		for {
			f.sensor.warmup()
			if n, err := r.influx.Count(ctx, "cradlewatch", q); err == nil && n > 0 {
				break
			}
			if time.Now().After(end) {
				return fmt.Errorf("chaos: no reading of %s reached InfluxDB in 2 minutes; gateway log:\n%s", f.ID, tail(f.gateway.logPath, 30))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// execute runs the load, the faults and the incidents for the run's
// duration, then stops the load and makes sure every part runs again.
func (r *run) execute(ctx context.Context, s Schedule) error {
	r.start = time.Now()
	stopLoad := make(chan struct{})
	rate := float64(r.opts.Rate) / float64(len(r.facilities))
	for _, f := range r.facilities {
		f.sensor.run(rate, stopLoad)
	}
	r.printf("chaos: load running (%d readings/s)\n", r.opts.Rate)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.runIncidents(runCtx, s.Incidents) }()
	go func() { defer wg.Done(); r.runFaults(runCtx, s.Faults) }()
	// The load runs for the duration, and on until the last fault and
	// incident are over when the schedule ran late: a fault without load
	// tests nothing.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-ctx.Done():
	case <-time.After(r.opts.Duration):
	}
	select {
	case <-ctx.Done():
	case <-done:
	}
	close(stopLoad)
	<-done
	r.printf("chaos: load stopped after %v\n", time.Since(r.start).Round(time.Second))
	if err := ctx.Err(); err != nil {
		return err
	}
	r.recoverAll(ctx)
	for _, f := range r.facilities {
		f.sensor.settle(2 * time.Minute)
	}
	return nil
}

// runIncidents publishes each incident's alarm at its time and its
// clearing after For.
func (r *run) runIncidents(ctx context.Context, incs []Incident) {
	var wg sync.WaitGroup
	for _, inc := range incs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := r.facilityByID(inc.Facility)
			if !r.sleepUntil(ctx, inc.At) {
				return
			}
			d := doneIncident{Incident: inc, On: f.sensor.alarm(inc.Kind, true)}
			if !r.sleepUntil(ctx, inc.At+inc.For) {
				r.journal.addIncident(d)
				return
			}
			d.Off = f.sensor.alarm(inc.Kind, false)
			r.journal.addIncident(d)
		}()
	}
	wg.Wait()
}

// sleepUntil waits until offset at from the start of the load; false when
// ctx ended first.
func (r *run) sleepUntil(ctx context.Context, at time.Duration) bool {
	return sleep(ctx, time.Until(r.start.Add(at)))
}

// runFaults runs the faults one after another, each no earlier than its
// time; a kill at the provider's answer is armed on its own.
func (r *run) runFaults(ctx context.Context, faults []Fault) {
	var async sync.WaitGroup
	defer async.Wait()
	for _, f := range faults {
		if f.Kind == AlertingKillAtSend {
			async.Add(1)
			go func() {
				defer async.Done()
				if r.sleepUntil(ctx, f.At) {
					r.journal.addFault(r.killAtSend(ctx, f))
				}
			}()
			continue
		}
		if !r.sleepUntil(ctx, f.At) {
			return
		}
		start := time.Now()
		note, err := r.fault(ctx, f)
		d := doneFault{Fault: f, Start: start, Note: note}
		if err == errSkipped {
			d.Skipped = true
		} else if err != nil {
			d.Err = err.Error()
		}
		d.End = time.Now()
		r.journal.addFault(d)
		status := note
		if d.Err != "" {
			status = "error: " + d.Err
		}
		r.printf("chaos: %6.1fs %-22s %-16s %s\n", start.Sub(r.start).Seconds(), f.Kind, f.Target, status)
		// Gap to the next fault: its time, or now when the schedule ran late.
	}
}
