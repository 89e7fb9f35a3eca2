package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// platformEngine has n facilities P0..P(n-1), one gateway each, all heard
// from at start (opening hours on a Tuesday).
func platformEngine(t *testing.T, n int) (*Engine, *fakeClock, time.Time) {
	t.Helper()
	start := at(2026, 5, 12, 10, 0)
	clk := &fakeClock{start}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now, Platform: Platform{Instance: "cw-alerting-0"}})
	for i := 0; i < n; i++ {
		f := Facility{Facility: model.Facility{ID: fmt.Sprintf("P%d", i), Region: "110105001"}, Gateways: []string{"gw"}}
		if err := e.AddFacility(f); err != nil {
			t.Fatal(err)
		}
		e.ObserveStatus(model.Status{Facility: f.ID, Gateway: "gw", State: model.GatewayOnline}, start)
	}
	return e, clk, start
}

func status(i int, s model.GatewayState) model.Status {
	return model.Status{Facility: fmt.Sprintf("P%d", i), Gateway: "gw", State: s}
}

// notified collects notifying transitions by "facility/rule/to".
type notified []string

func (n *notified) add(trs []Transition) {
	for _, tr := range trs {
		if tr.Notify {
			*n = append(*n, tr.Alert.Facility+"/"+tr.Alert.Rule+"/"+tr.To.String())
		}
	}
}

func (n notified) count(prefix string) int {
	c := 0
	for _, s := range n {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			c++
		}
	}
	return c
}

// TestBrokerStops: the central broker stops. It hands out every gateway's
// last will as it goes down, just before the service's own link drops;
// it comes back 30 s later and the gateways reconnect one by one, except
// one that does not come back. Nobody is paged for the gateways that came
// back, the platform is told (centre_link fires and resolves), and the
// gateway that stayed away is its facility's outage after the grace.
func TestBrokerStops(t *testing.T) {
	const n = 6
	e, clk, start := platformEngine(t, n)
	var got notified
	down := start.Add(time.Minute)
	clk.t = down
	for i := 0; i < n; i++ {
		got.add(e.ObserveStatus(status(i, model.GatewayOffline), down))
	}
	got.add(e.CentreLost(down.Add(50 * time.Millisecond)))
	for s := 1; s <= 30; s++ {
		clk.t = down.Add(time.Duration(s) * time.Second)
		got.add(e.Tick(clk.t))
	}
	back := down.Add(30 * time.Second)
	got.add(e.CentreBack(back))
	// The broker hands out the retained last wills again on resubscribe.
	for i := 0; i < n; i++ {
		got.add(e.ObserveStatus(status(i, model.GatewayOffline), back))
	}
	for s := 1; s <= 200; s++ {
		clk.t = back.Add(time.Duration(s) * time.Second)
		if s <= n-1 {
			got.add(e.ObserveStatus(status(s-1, model.GatewayOnline), clk.t))
		}
		got.add(e.Tick(clk.t))
	}
	if c := got.count("platform/centre_link_lost/firing"); c != 1 {
		t.Errorf("centre_link_lost fired %d times, want 1: %v", c, got)
	}
	if c := got.count("platform/centre_link_lost/resolved"); c != 1 {
		t.Errorf("centre_link_lost resolved %d times, want 1: %v", c, got)
	}
	for i := 0; i < n-1; i++ {
		if c := got.count(fmt.Sprintf("P%d/", i)); c != 0 {
			t.Errorf("P%d paged for the broker's outage: %v", i, got)
		}
	}
	if c := got.count(fmt.Sprintf("P%d/gateway_offline/firing", n-1)); c != 1 {
		t.Errorf("the gateway that stayed away: %d firing, want 1: %v", c, got)
	}
	if c := got.count("platform/gateways_mass_drop"); c != 0 {
		t.Errorf("a lost centre link is not also a mass drop: %v", got)
	}
}

// TestMassDrop: the service stays connected but four of six gateways are
// lost within a few seconds (their listener or network failed): a platform
// incident, no facility paged. Three come back; the incident ends and the
// fourth, still away, is its facility's outage after the grace. A single
// gateway lost later is its facility's outage after the hold.
func TestMassDrop(t *testing.T) {
	const n = 6
	e, clk, start := platformEngine(t, n)
	var got notified
	for i := 0; i < 4; i++ {
		clk.t = start.Add(time.Duration(i*3) * time.Second)
		got.add(e.ObserveStatus(status(i, model.GatewayOffline), clk.t))
		got.add(e.Tick(clk.t))
	}
	for s := 10; s < 60; s++ {
		clk.t = start.Add(time.Duration(s) * time.Second)
		got.add(e.Tick(clk.t))
	}
	if c := got.count("platform/gateways_mass_drop/firing"); c != 1 {
		t.Fatalf("mass drop fired %d times, want 1: %v", c, got)
	}
	for i := 0; i < n; i++ {
		if c := got.count(fmt.Sprintf("P%d/", i)); c != 0 {
			t.Fatalf("P%d paged during a mass drop: %v", i, got)
		}
	}
	var ended time.Time
	for i := 0; i < 3; i++ {
		clk.t = clk.t.Add(time.Second)
		got.add(e.ObserveStatus(status(i, model.GatewayOnline), clk.t))
		trs := e.Tick(clk.t)
		if tr, ok := find(trs, "gateways_mass_drop", "cw-alerting-0"); ok && tr.To == Resolved {
			ended = tr.At
		}
		got.add(trs)
	}
	// Four of six lost against a limit of max(3, 20 % of 6): it ends when
	// only two are missing.
	if c := got.count("platform/gateways_mass_drop/resolved"); c != 1 || ended.IsZero() {
		t.Fatalf("mass drop resolved %d times, want 1: %v", c, got)
	}
	for clk.t.Before(ended.Add(DefaultReconnectGrace + 10*time.Second)) {
		clk.t = clk.t.Add(time.Second)
		for i := 4; i < n; i++ { // the others keep sending
			got.add(e.ObserveStatus(status(i, model.GatewayOnline), clk.t))
		}
		trs := e.Tick(clk.t)
		if has(trs, "gateway_offline", "gw") && clk.t.Before(ended.Add(DefaultReconnectGrace)) {
			t.Fatalf("gateway announced %s after the incident, before the grace", clk.t.Sub(ended))
		}
		got.add(trs)
	}
	if c := got.count("P3/gateway_offline/firing"); c != 1 {
		t.Fatalf("the gateway still away after the incident: %d firing, want 1: %v", c, got)
	}
	// One gateway alone: its facility's outage.
	clk.t = clk.t.Add(time.Minute)
	lone := clk.t
	got.add(e.ObserveStatus(status(5, model.GatewayOffline), lone))
	for clk.t.Before(lone.Add(DefaultGatewayHold)) {
		clk.t = clk.t.Add(time.Second)
		got.add(e.ObserveStatus(status(4, model.GatewayOnline), clk.t))
		got.add(e.Tick(clk.t))
	}
	if c := got.count("P5/gateway_offline/firing"); c != 1 {
		t.Fatalf("a lone lost gateway: %d firing, want 1: %v", c, got)
	}
	if c := got.count("platform/gateways_mass_drop/firing"); c != 1 {
		t.Fatalf("a lone loss is not a mass drop: %v", got)
	}
}

// TestDeafCentreSilences: while the service's own link is down for an
// hour nothing is silent (no gateway, no device absence), and afterwards
// silence counts from the reconnect.
func TestDeafCentreSilences(t *testing.T) {
	start := at(2026, 5, 12, 10, 0)
	e, clk := newEngine(t, start)
	e.gateways(t, "F1", start)
	var got notified
	got.add(e.CentreLost(start))
	for m := 1; m <= 60; m++ {
		clk.t = start.Add(time.Duration(m) * time.Minute)
		got.add(e.Tick(clk.t))
	}
	back := clk.t
	got.add(e.CentreBack(back))
	if c := got.count("F1/"); c != 0 {
		t.Fatalf("paged while the centre was deaf: %v", got)
	}
	for s := 10; s <= 6*60; s += 10 {
		clk.t = back.Add(time.Duration(s) * time.Second)
		got.add(e.Tick(clk.t))
		if c := got.count("F1/gateway_offline/firing"); c != 0 && clk.t.Sub(back) <= 5*time.Minute {
			t.Fatalf("gateway silent %s after the reconnect, before its silence: %v", clk.t.Sub(back), got)
		}
	}
	if c := got.count("F1/gateway_offline/firing"); c != 1 {
		t.Fatalf("the gateway silent since the reconnect: %d firing, want 1: %v", c, got)
	}
}
