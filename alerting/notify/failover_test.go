package notify

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFailover(t *testing.T) {
	outage := &ProviderError{Kind: Transient, Status: 503}
	limit := &ProviderError{Kind: Budget, Code: "isv.BUSINESS_LIMIT_CONTROL"}
	bad := &ProviderError{Kind: Permanent, Code: "isv.SMS_TEMPLATE_ILLEGAL"}
	tests := []struct {
		name               string
		first, second      []error
		wantFirst, wantSec int // messages each provider delivered
		wantErr            bool
		retry, budget      bool
	}{
		{"first works", nil, nil, 1, 0, false, false, false},
		{"first down: the second takes over", []error{outage}, nil, 0, 1, false, false, false},
		{"first refuses the number: the second has its own budget", []error{limit}, nil, 0, 1, false, false, false},
		{"first rejects the template: the second tries", []error{bad}, nil, 0, 1, false, false, false},
		{"both refuse the number: a budget answer", []error{limit}, []error{limit}, 0, 0, true, false, true},
		{"one down, one refusing: transient", []error{outage}, []error{limit}, 0, 0, true, true, false},
		{"both reject: permanent", []error{bad}, []error{bad}, 0, 0, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := &recorder{script: tc.first}, &recorder{script: tc.second}
			reg := prometheus.NewRegistry()
			f, err := NewFailover(ChannelSMS, []Provider{{"aliyun", a}, {"tencent", b}}, &fakeClock{now: t0}, reg)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := f.Notify(context.Background(), Message{Key: "k"})
			if a.count() != tc.wantFirst || b.count() != tc.wantSec || (err != nil) != tc.wantErr || retry != tc.retry ||
				errors.Is(err, ErrBudgetExhausted) != tc.budget {
				t.Fatalf("delivered %d/%d, retry %v, err %v", a.count(), b.count(), retry, err)
			}
			if tc.wantSec > 0 && testutil.ToFloat64(f.switches.WithLabelValues("aliyun", "tencent")) != 1 {
				t.Fatal("failover not counted")
			}
		})
	}
}

// TestFailoverCooldown: a provider that is down goes to the back of the
// order for a while, so the next message does not wait for it first.
func TestFailoverCooldown(t *testing.T) {
	clock := &fakeClock{now: t0}
	a, b := &recorder{script: []error{&ProviderError{Kind: Transient}}}, &recorder{}
	f, err := NewFailover(ChannelSMS, []Provider{{"aliyun", a}, {"tencent", b}}, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.Notify(context.Background(), Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.count() != 0 || b.count() != 3 {
		t.Fatalf("during the cooldown: %d/%d", a.count(), b.count())
	}
	clock.advance(FailoverCooldown)
	f.Notify(context.Background(), Message{})
	if a.count() != 1 {
		t.Fatalf("after the cooldown the first provider is first again: %d", a.count())
	}
	if _, err := NewFailover(ChannelSMS, nil, clock, nil); err == nil {
		t.Fatal("a failover of nothing")
	}
}

// TestFailoverConfirm: a failover asks each provider that can say what it
// took; any that took the message settles it, and a provider that cannot
// be asked leaves the answer unknown unless another took it. A failover
// of providers none of which can confirm is not a Confirmer at all.
func TestFailoverConfirm(t *testing.T) {
	m := Message{Key: "k", To: Contact{Phone: "13812341234"}}
	took := func() *confirming { r := &recorder{sent: []Message{m}}; return &confirming{recorder: r} }
	none := func() *confirming { return &confirming{recorder: &recorder{}} }
	failing := func() *confirming { return &confirming{recorder: &recorder{}, err: errors.New("down")} }
	tests := []struct {
		name      string
		providers []Notifier
		confirms  bool
		want      bool
		wantErr   bool
	}{
		{"neither can confirm", []Notifier{&recorder{}, &recorder{}}, false, false, true},
		{"the first took it", []Notifier{took(), &recorder{}}, true, true, false},
		{"the second took it", []Notifier{none(), took()}, true, true, false},
		{"neither took it", []Notifier{none(), none()}, true, false, false},
		{"one did not, the other cannot say", []Notifier{none(), &recorder{}}, true, false, true},
		{"one cannot be asked, the other took it", []Notifier{failing(), took()}, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFailover(ChannelSMS, []Provider{{"a", tc.providers[0]}, {"b", tc.providers[1]}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := confirmerOf(f); ok != tc.confirms {
				t.Fatalf("confirms %v, want %v", ok, tc.confirms)
			}
			got, err := f.Confirm(context.Background(), m, t0)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Confirm = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestFailoverUnanswered: when one provider's answer never came (a
// timeout), the failover's failure is not an answer: the message may
// have been taken. When every provider refused, it is one.
func TestFailoverUnanswered(t *testing.T) {
	refuse := &ProviderError{Kind: Transient, Status: 503}
	for _, tc := range []struct {
		name     string
		first    error
		answered bool
	}{{"both refused", refuse, true}, {"the first timed out", context.DeadlineExceeded, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFailover(ChannelSMS, []Provider{{"a", &recorder{script: []error{tc.first}}}, {"b", &recorder{script: []error{refuse}}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Notify(context.Background(), Message{Key: "k"})
			if err == nil || answered(err) != tc.answered {
				t.Fatalf("err %v: answered %v, want %v", err, answered(err), tc.answered)
			}
		})
	}
}
