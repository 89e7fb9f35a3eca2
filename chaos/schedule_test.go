package chaos

import (
	"testing"
	"time"
)

func testTargets() []target {
	fs, _ := planFacilities(4, 4)
	out := make([]target, len(fs))
	for i, f := range fs {
		out[i] = target{ID: f.ID, Layout: f.Layout, PowerCut: f.PowerCut, Tmpfs: f.Tmpfs, Shard: f.Shard}
	}
	return out
}

// TestPlanCoversEveryKind: whatever the seed, a three-minute run has every
// kind of fault, a kill and a power cut on each layout, and incidents; a
// thirty-minute run has every facility kind on each layout. Faults do not
// overlap, and the same seed gives the same schedule.
func TestPlanCoversEveryKind(t *testing.T) {
	targets := testTargets()
	for _, d := range []time.Duration{3 * time.Minute, 30 * time.Minute} {
		for seed := int64(0); seed < 50; seed++ {
			s := Plan(seed, d, targets)
			kinds := map[FaultKind]map[string]bool{}
			var end time.Duration
			for _, f := range s.Faults {
				if kinds[f.Kind] == nil {
					kinds[f.Kind] = map[string]bool{}
				}
				kinds[f.Kind][f.Layout] = true
				if f.Kind == AlertingKillAtSend {
					continue
				}
				if f.At < end {
					t.Fatalf("%v seed %d: %s starts at %v, before the previous fault ended (%v)", d, seed, f.Kind, f.At, end)
				}
				end = f.At + f.For
			}
			for _, k := range FaultKinds {
				if len(kinds[k]) == 0 {
					t.Fatalf("%v seed %d: no %s", d, seed, k)
				}
			}
			for _, k := range []FaultKind{GatewayKill, PowerCut} {
				if !kinds[k][layoutMosquitto] || !kinds[k][layoutEmbedded] {
					t.Fatalf("%v seed %d: %s not on both layouts: %v", d, seed, k, kinds[k])
				}
			}
			if d >= 10*time.Minute {
				for _, k := range []FaultKind{LocalBrokerRestart, UplinkCut, SpoolFull, MalformedFlood} {
					if !kinds[k][layoutMosquitto] || !kinds[k][layoutEmbedded] {
						t.Fatalf("%v seed %d: %s not on both layouts: %v", d, seed, k, kinds[k])
					}
				}
			}
			if end > d+30*time.Second {
				t.Errorf("%v seed %d: faults run until %v", d, seed, end)
			}
			if len(s.Incidents) < len(targets) {
				t.Errorf("%v seed %d: %d incidents, want one per facility at least", d, seed, len(s.Incidents))
			}
			p := shortProfile
			if d >= 10*time.Minute {
				p = longProfile
			}
			for _, i := range s.Incidents {
				if i.For <= p.maxOutage() || i.At+i.For > d {
					t.Errorf("%v seed %d: incident %+v: shorter than the longest outage %v or beyond the run", d, seed, i, p.maxOutage())
				}
			}
			if again := Plan(seed, d, targets); len(again.Faults) != len(s.Faults) || again.Faults[0] != s.Faults[0] {
				t.Fatalf("%v seed %d: the same seed gave another schedule", d, seed)
			}
		}
	}
}

func TestPlanPrint(t *testing.T) {
	for _, d := range []time.Duration{3 * time.Minute, 30 * time.Minute} {
		s := Plan(1, d, testTargets())
		for _, f := range s.Faults {
			t.Log(f)
		}
		for _, i := range s.Incidents {
			t.Logf("incident %+v", i)
		}
	}
}
