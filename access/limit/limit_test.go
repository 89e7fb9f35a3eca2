package limit_test

import (
	"context"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/limit/limittest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMemoryBackend(t *testing.T) {
	limittest.Run(t, func(*testing.T) limit.Backend { return limit.NewMemory() })
}

func TestMemoryBounded(t *testing.T) {
	m := limit.NewMemory()
	ctx := context.Background()
	lockedKey := "x:locked"
	m.Update(ctx, lockedKey, func(limit.State) limit.State { return limit.State{LockedUntil: time.Unix(1e9, 0)} })
	for i := range 150_000 {
		m.Update(ctx, string(rune(i))+"k", func(s limit.State) limit.State { s.Failures++; return s })
	}
	if st, _ := m.Get(ctx, lockedKey); st.LockedUntil.IsZero() {
		t.Fatal("a flood of new keys evicted a locked one")
	}
}

func TestTwoLimitersShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	rules := map[string]limit.Rule{"account": {Max: 1, Window: time.Minute, Lockout: time.Minute}}
	for _, name := range []string{"login", "sms_reply"} {
		if _, err := limit.New(limit.Options{Name: name, Rules: rules, Registerer: reg}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := limit.New(limit.Options{Name: "bad", Rules: map[string]limit.Rule{"x": {}}}); err == nil {
		t.Fatal("zero rule accepted")
	}
}
