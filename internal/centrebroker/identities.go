package centrebroker

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cradlewatch/cradlewatch/model"
)

// Service accounts and names the broker reserves for them.
const (
	// CollectorUser stores batches and acknowledges them. Every collector
	// instance logs in as it, each with a client ID of its own
	// (ServiceClientPrefix): they share one share group and one right.
	CollectorUser = "collector"
	// AlertingPrefix starts the account of each alerting instance:
	// alerting-<shard> (AlertingUser).
	AlertingPrefix = "alerting"
	// ConsolePrefix starts the account of each console (front door)
	// instance: console-<n> (ConsoleUser).
	ConsolePrefix = "console"
	// DefaultShareGroup is the collectors' shared-subscription group
	// (share_group in the collector's configuration).
	DefaultShareGroup = "cw-collector"
	// ServiceClientPrefix starts the client ID of every service instance
	// (cw-collector-1, cw-alerting-0, cw-console-0). No gateway ID may
	// start with it, so a gateway's bound client ID can never take over a
	// service's session.
	ServiceClientPrefix = "cw-"
)

// The control bus's topic filters, as the ACL grants them (docs/security.md,
// "One front door"; model/control.go).
var (
	// commandFilter is every facility command of every shard: what a
	// console may publish.
	commandFilter = model.ControlPrefix + "/+/cmd/+"
	// queryFilter is every shard's query topic: what a console may publish.
	queryFilter = model.ControlPrefix + "/+/query"
	// replyFilter is every requester's replies: what alerting instances
	// may publish.
	replyFilter = model.ControlPrefix + "/reply/+/+"
)

// AlertingUser is the account of alerting instance shard (its shard.index).
func AlertingUser(shard int) string { return AlertingPrefix + "-" + strconv.Itoa(shard) }

// AlertingClientID is the only client ID AlertingUser(shard) may connect
// with (the alerting service's mqtt.client_id).
func AlertingClientID(shard int) string { return ServiceClientPrefix + AlertingUser(shard) }

// ConsoleUser is the account of console instance n.
func ConsoleUser(n int) string { return ConsolePrefix + "-" + strconv.Itoa(n) }

// ConsoleClientID is the only client ID ConsoleUser(n) may connect with
// (the console's mqtt.client_id): its replies come to
// cw/ctl/v1/reply/<ConsoleClientID(n)>/<id>.
func ConsoleClientID(n int) string { return ServiceClientPrefix + ConsoleUser(n) }

// Kind says what an account is.
type Kind int

// Account kinds.
const (
	KindGateway Kind = iota
	KindCollector
	KindAlerting
	KindConsole
)

func (k Kind) String() string {
	switch k {
	case KindGateway:
		return "gateway"
	case KindCollector:
		return "collector"
	case KindAlerting:
		return "alerting"
	case KindConsole:
		return "console"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Account is one broker login.
type Account struct {
	Kind     Kind
	Username string
	// ClientID is the only client ID the account may connect with; empty
	// for the collector, whose instances choose their own
	// (ServiceClientPrefix).
	ClientID string
	// Facility is a gateway's facility, from the registry.
	Facility string
	// Index is an alerting instance's shard or a console's number.
	Index int
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
//
// The control bus (cw/ctl/v1/...) is split by role: a console publishes
// commands and queries and reads its own replies only; alerting instance n
// reads shard n's commands and queries only and publishes replies; the
// collector and gateways have no part of it.
func (a Account) Grants(shareGroup string) Grants {
	streams := []string{model.SubscriptionAll(model.SuffixBatch), model.SubscriptionAll(model.SuffixStatus)}
	switch a.Kind {
	case KindGateway:
		return Grants{
			Publish:   []string{model.Topic(a.Facility, a.ClientID, model.SuffixBatch), model.Topic(a.Facility, a.ClientID, model.SuffixStatus)},
			Subscribe: []string{model.Topic(a.Facility, a.ClientID, model.SuffixAck)},
			Receive:   []string{model.Topic(a.Facility, a.ClientID, model.SuffixAck)},
		}
	case KindCollector:
		return Grants{
			Publish:   []string{model.SubscriptionAll(model.SuffixAck)},
			Subscribe: []string{model.SharedSubscription(shareGroup, model.SuffixBatch), model.SharedSubscription(shareGroup, model.SuffixStatus)},
			Receive:   streams,
		}
	case KindAlerting:
		shard := model.ShardFilter(a.Index)
		return Grants{
			Publish:   []string{replyFilter},
			Subscribe: append(append([]string(nil), streams...), shard),
			Receive:   append(append([]string(nil), streams...), shard),
		}
	case KindConsole:
		replies := model.ReplyFilter(a.ClientID)
		return Grants{
			Publish:   []string{commandFilter, queryFilter},
			Subscribe: []string{replies},
			Receive:   []string{replies},
		}
	}
	return Grants{}
}

// Accounts lists the service accounts (the collector, alerting-0 ..
// alerting-<shards-1>, console-0 .. console-<consoles-1>), then one account
// per registered gateway, in registry order.
func Accounts(facilities []Facility, shards, consoles int) []Account {
	out := []Account{{Kind: KindCollector, Username: CollectorUser}}
	for i := range shards {
		out = append(out, Account{Kind: KindAlerting, Username: AlertingUser(i), ClientID: AlertingClientID(i), Index: i})
	}
	for i := range consoles {
		out = append(out, Account{Kind: KindConsole, Username: ConsoleUser(i), ClientID: ConsoleClientID(i), Index: i})
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
	for _, service := range []string{CollectorUser, AlertingPrefix, ConsolePrefix} {
		if strings.HasPrefix(gateway, service) {
			// The services' accounts are collector, alerting-<n> and
			// console-<n>; Kubernetes names their pods collector-...,
			// alerting-N, console-N.
			return fmt.Sprintf("gateway %q starts with the name of a service account (%s)", gateway, service)
		}
	}
	if strings.HasPrefix(gateway, ServiceClientPrefix) {
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
