package centrebroker

import (
	"crypto/rand"
	"fmt"
	"io"
)

// MaxInstances bounds the alerting shards and consoles an identities file
// is written for: far more than any centre runs, few enough that a typo
// does not write a million accounts.
const MaxInstances = 256

// Options of Generate.
type Options struct {
	// Facilities is the registry, from LoadFacilities.
	Facilities []Facility
	// ShareGroup is the collectors' shared-subscription group;
	// DefaultShareGroup when empty.
	ShareGroup string
	// Previous holds the credentials of an earlier run (ParseDynsec,
	// ParseEMQXUsers), by username. Accounts that still exist keep them,
	// so re-running after a registry change touches no working password.
	Previous map[string]Credential
	// Passwords sets the password of these accounts (by username), for
	// passwords an installer chose or rotates; they replace Previous.
	Passwords map[string]string
	// Rand is the source of salts and new passwords; crypto/rand when nil.
	Rand io.Reader
	// Shards is the alerting service's shard.count: one account
	// alerting-<n> per shard; 1 when zero.
	Shards int
	// Consoles is the number of console (front door) instances: one
	// account console-<n> each; 1 when zero.
	Consoles int
	// GatewaysOnly leaves the service accounts out (EMQX keeps them on the
	// in-cluster listener's own authenticator).
	GatewaysOnly bool
}

// Identities is the broker's view of who may connect.
type Identities struct {
	ShareGroup  string
	Accounts    []Account
	Credentials map[string]Credential // by username
	// New lists the accounts that got a generated password in this run,
	// with the password: what goes on the installers' sheets.
	New []NewAccount
	// Dropped lists usernames of Previous that no longer exist (gateways
	// removed from the registry): their access ends with this run.
	Dropped []string
}

// NewAccount is an account created with a generated password.
type NewAccount struct {
	Account
	Password string
}

// Generate builds the accounts of the registry and their credentials.
func Generate(o Options) (*Identities, error) {
	if o.ShareGroup == "" {
		o.ShareGroup = DefaultShareGroup
	}
	if err := ValidShareGroup(o.ShareGroup); err != nil {
		return nil, err
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Shards == 0 {
		o.Shards = 1
	}
	if o.Consoles == 0 {
		o.Consoles = 1
	}
	if o.Shards < 0 || o.Shards > MaxInstances || o.Consoles < 0 || o.Consoles > MaxInstances {
		return nil, fmt.Errorf("shards %d, consoles %d: want 1 to %d each", o.Shards, o.Consoles, MaxInstances)
	}
	accounts := Accounts(o.Facilities, o.Shards, o.Consoles)
	if o.GatewaysOnly {
		accounts = accounts[:0:0]
		for _, a := range Accounts(o.Facilities, o.Shards, o.Consoles) {
			if a.Kind == KindGateway {
				accounts = append(accounts, a)
			}
		}
	}
	id := &Identities{ShareGroup: o.ShareGroup, Accounts: accounts, Credentials: map[string]Credential{}}
	known := map[string]bool{}
	for _, a := range id.Accounts {
		known[a.Username] = true
	}
	for user := range o.Passwords {
		if !known[user] {
			return nil, fmt.Errorf("password given for %q, which is no account (not a service of the given shard and console counts, not a gateway of the registry)", user)
		}
	}
	for _, a := range id.Accounts {
		if pw, ok := o.Passwords[a.Username]; ok {
			if pw == "" {
				return nil, fmt.Errorf("empty password given for %q", a.Username)
			}
			c, err := NewCredential(pw, o.Rand)
			if err != nil {
				return nil, err
			}
			id.Credentials[a.Username] = c
			continue
		}
		if c, ok := o.Previous[a.Username]; ok {
			id.Credentials[a.Username] = c
			continue
		}
		pw, err := NewPassword(o.Rand)
		if err != nil {
			return nil, err
		}
		c, err := NewCredential(pw, o.Rand)
		if err != nil {
			return nil, err
		}
		id.Credentials[a.Username] = c
		id.New = append(id.New, NewAccount{Account: a, Password: pw})
	}
	for user := range o.Previous {
		if !known[user] {
			id.Dropped = append(id.Dropped, user)
		}
	}
	sortStrings(id.Dropped)
	return id, nil
}
