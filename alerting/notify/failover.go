package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FailoverCooldown is how long a provider that failed with a transient
// error (an outage, a timeout) goes to the back of the order, so that the
// next messages do not wait for its timeout first.
const FailoverCooldown = time.Minute

// Provider is one provider of a channel, by name (for metrics and logs).
type Provider struct {
	Name     string
	Notifier Notifier
}

// Failover is the Notifier of a channel served by several providers in a
// configured order (two SMS providers): each message goes to the first
// provider that takes it. A provider's refusal of the number (its budget),
// an outage or a permanent error sends the message to the next provider;
// only when every provider failed does the path see a failure: transient
// if any failure was, a budget answer if every provider refused the
// number.
type Failover struct {
	channel   Channel
	providers []Provider
	clock     Clock
	switches  *prometheus.CounterVec

	mu   sync.Mutex
	down map[string]time.Time // provider → skipped first until
}

// NewFailover builds the failover of ch over providers (at least one).
// Its metric is registered with reg when reg is not nil.
func NewFailover(ch Channel, providers []Provider, clock Clock, reg prometheus.Registerer) (*Failover, error) {
	if len(providers) == 0 {
		return nil, errors.New("failover: no provider")
	}
	if clock == nil {
		clock = RealClock{}
	}
	f := &Failover{channel: ch, providers: providers, clock: clock, down: map[string]time.Time{},
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "cw_alerting_provider_failovers_total",
			Help:        "Messages a provider failed and the next provider of the channel was tried for, by channel, provider that failed and provider tried next.",
			ConstLabels: prometheus.Labels{"channel": string(ch)},
		}, []string{"from", "to"})}
	if reg != nil {
		if err := reg.Register(f.switches); err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
	}
	return f, nil
}

// order lists the providers, those in their cooldown last.
func (f *Failover) order() []Provider {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	var up, down []Provider
	for _, p := range f.providers {
		if until, ok := f.down[p.Name]; ok && now.Before(until) {
			down = append(down, p)
			continue
		}
		up = append(up, p)
	}
	return append(up, down...)
}

// Notify sends m with the first provider that takes it.
func (f *Failover) Notify(ctx context.Context, m Message) (bool, error) {
	var msgs []string
	retry, budget, unanswered := false, true, false
	order := f.order()
	for i, p := range order {
		r, err := p.Notifier.Notify(ctx, m)
		if err == nil {
			f.mu.Lock()
			delete(f.down, p.Name)
			f.mu.Unlock()
			return false, nil
		}
		msgs = append(msgs, p.Name+": "+err.Error())
		retry = retry || r
		unanswered = unanswered || !answered(err)
		budget = budget && errors.Is(err, ErrBudgetExhausted)
		if r {
			f.mu.Lock()
			f.down[p.Name] = f.clock.Now().Add(FailoverCooldown)
			f.mu.Unlock()
		}
		if ctx.Err() != nil {
			break
		}
		if i+1 < len(order) {
			f.switches.WithLabelValues(p.Name, order[i+1].Name).Inc()
		}
	}
	kind := Permanent
	switch {
	case budget:
		kind = Budget
	case retry:
		kind = Transient
	}
	return retry && !budget, &ProviderError{Channel: f.channel, Kind: kind, Code: "AllProvidersFailed", Message: strings.Join(msgs, "; "),
		Unanswered: unanswered}
}

// confirmerOf returns nt as a Confirmer when its provider can confirm
// what it took: a Failover can when one of its providers can.
func confirmerOf(nt Notifier) (Confirmer, bool) {
	if f, ok := nt.(*Failover); ok {
		return f, slices.ContainsFunc(f.providers, func(p Provider) bool { _, ok := p.Notifier.(Confirmer); return ok })
	}
	c, ok := nt.(Confirmer)
	return c, ok
}

// Confirm asks each provider that can confirm whether it took m: any that
// did settles it. When none did and one of them cannot be asked (it has
// no way to tell, or the question failed), the answer is unknown.
func (f *Failover) Confirm(ctx context.Context, m Message, since time.Time) (bool, error) {
	var errs []error
	for _, p := range f.providers {
		c, ok := p.Notifier.(Confirmer)
		if !ok {
			errs = append(errs, fmt.Errorf("%s cannot confirm what it took", p.Name))
			continue
		}
		took, err := c.Confirm(ctx, m, since)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		if took {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}
