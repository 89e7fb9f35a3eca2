package centrebroker

import (
	"fmt"
	"strings"

	"github.com/cradlewatch/cradlewatch/model"
)

// Service accounts and names the broker reserves for them.
const (
	// CollectorUser stores batches and acknowledges them.
	CollectorUser = "collector"
	// AlertingUser evaluates rules on every batch and status.
	AlertingUser = "alerting"
	// DefaultShareGroup is the collectors' shared-subscription group
	// (share_group in the collector's configuration).
	DefaultShareGroup = "cw-collector"
	// ServiceClientPrefix starts the client ID of every service instance
	// (cw-collector-1, cw-alerting-0). No gateway ID may start with it, so
	// a gateway's bound client ID can never take over a service's session.
	ServiceClientPrefix = "cw-"
	// CommandTopics is the services' command bus, closed to gateways.
	CommandTopics = "cw/ctl/#"
)

// Kind says what an account is.
type Kind int

// Account kinds.
const (
	KindGateway Kind = iota
	KindCollector
	KindAlerting
)

func (k Kind) String() string {
	switch k {
	case KindGateway:
		return "gateway"
	case KindCollector:
		return "collector"
	case KindAlerting:
		return "alerting"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Account is one broker login.
type Account struct {
	Kind     Kind
	Username string
	// ClientID is the only client ID the account may connect with; empty
	// for services, whose instances choose their own (ServiceClientPrefix).
	ClientID string
	// Facility is a gateway's facility, from the registry.
	Facility string
}

// Grants are what an account may do, as topic filters.
type Grants struct {
	// Publish lists topics the account may publish to (and name in its
	// last will).
	Publish []string
	// Subscribe lists the exact filters it may subscribe to, $share
	// prefix included.
	Subscribe []string
	// SubscribePatterns lists filters under which it may subscribe to any
	// narrower filter.
	SubscribePatterns []string
	// Receive lists filters of the messages delivered to it.
	Receive []string
}

// Grants returns the account's rights; shareGroup is the collectors'
// shared-subscription group.
func (a Account) Grants(shareGroup string) Grants {
	bus := Grants{Publish: []string{CommandTopics}, SubscribePatterns: []string{CommandTopics}, Receive: []string{CommandTopics}}
	streams := []string{model.SubscriptionAll(model.SuffixBatch), model.SubscriptionAll(model.SuffixStatus)}
	switch a.Kind {
	case KindGateway:
		return Grants{
			Publish:   []string{model.Topic(a.Facility, a.ClientID, model.SuffixBatch), model.Topic(a.Facility, a.ClientID, model.SuffixStatus)},
			Subscribe: []string{model.Topic(a.Facility, a.ClientID, model.SuffixAck)},
			Receive:   []string{model.Topic(a.Facility, a.ClientID, model.SuffixAck)},
		}
	case KindCollector:
		g := bus
		g.Publish = append(g.Publish, model.SubscriptionAll(model.SuffixAck))
		g.Subscribe = []string{model.SharedSubscription(shareGroup, model.SuffixBatch), model.SharedSubscription(shareGroup, model.SuffixStatus)}
		g.Receive = append(g.Receive, streams...)
		return g
	case KindAlerting:
		g := bus
		g.Subscribe = streams
		g.Receive = append(g.Receive, streams...)
		return g
	}
	return Grants{}
}

// Accounts lists the service accounts, then one account per registered
// gateway, in registry order.
func Accounts(facilities []Facility) []Account {
	out := []Account{
		{Kind: KindCollector, Username: CollectorUser},
		{Kind: KindAlerting, Username: AlertingUser},
	}
	for _, f := range facilities {
		for _, g := range f.Gateways {
			out = append(out, Account{Kind: KindGateway, Username: g, ClientID: g, Facility: f.ID})
		}
	}
	return out
}

// reservedName says why a gateway ID cannot be an account, or "".
func reservedName(gateway string) string {
	switch {
	case strings.HasPrefix(gateway, CollectorUser) || strings.HasPrefix(gateway, AlertingUser):
		// Kubernetes names the services' pods collector-..., alerting-N,
		// and they connect with their pod name as client ID.
		return fmt.Sprintf("gateway %q starts with the name of a service account, which service instances use for their client IDs", gateway)
	case strings.HasPrefix(gateway, ServiceClientPrefix):
		return fmt.Sprintf("gateway %q starts with %q, which service instances use for their client IDs", gateway, ServiceClientPrefix)
	}
	return ""
}

// ValidShareGroup checks a shared-subscription group name: one topic level
// without wildcards.
func ValidShareGroup(g string) error {
	if g == "" || strings.ContainsAny(g, "/+#") {
		return fmt.Errorf("share group %q: want one topic level without / + #", g)
	}
	return nil
}
