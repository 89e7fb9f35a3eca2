package centrebroker

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// EMQX (5.x) keeps users and per-user rules in its built-in database,
// loaded through its REST API: RenderEMQXUsers writes the file for
// POST /api/v5/authentication/{id}/import_users (CSV: user_id,
// password_hash as hex, salt, is_superuser), RenderEMQXRules the body for
// POST /api/v5/authorization/sources/built_in_database/rules/users. The
// static rules (services, deny everything else) are in
// deploy/kubernetes/emqx; docs/deploy.md has the order of the steps.

// RenderEMQXUsers writes the gateways' accounts for the gateways'
// authenticator. Services are created by hand on the in-cluster listener's
// authenticator (deploy/kubernetes/emqx), so a gateway password can never
// log in as a service and a service never from the internet.
func RenderEMQXUsers(id *Identities) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"user_id", "password_hash", "salt", "is_superuser"})
	for _, a := range id.Accounts {
		if a.Kind != KindGateway {
			continue
		}
		c, ok := id.Credentials[a.Username]
		if !ok {
			return nil, fmt.Errorf("emqx: no credential for %q", a.Username)
		}
		if c.Iterations != HashIterations {
			return nil, fmt.Errorf("emqx: %q was hashed with %d iterations; the authenticator checks %d: set a new password", a.Username, c.Iterations, HashIterations)
		}
		_ = w.Write([]string{a.Username, hex.EncodeToString(c.Key), string(c.Salt), "false"})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// ParseEMQXUsers reads the credentials of an earlier RenderEMQXUsers.
func ParseEMQXUsers(data []byte) (map[string]Credential, error) {
	r := csv.NewReader(bytes.NewReader(data))
	out := map[string]Credential{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("emqx users: %w", err)
		}
		if len(rec) != 4 {
			return nil, fmt.Errorf("emqx users: line %d: want 4 fields, got %d", line, len(rec))
		}
		if line == 1 && rec[0] == "user_id" {
			continue
		}
		key, err := hex.DecodeString(rec[1])
		if err != nil {
			return nil, fmt.Errorf("emqx users: line %d: password_hash: %w", line, err)
		}
		out[rec[0]] = Credential{Salt: []byte(rec[2]), Key: key, Iterations: HashIterations}
	}
}

type emqxUserRules struct {
	Username string     `json:"username"`
	Rules    []emqxRule `json:"rules"`
}

type emqxRule struct {
	Topic      string `json:"topic"`
	Permission string `json:"permission"`
	Action     string `json:"action"`
}

// RenderEMQXRules writes each gateway's rules: publish its batch and
// status, subscribe to its ack. Everything else falls through to the file
// rules, whose last one denies.
func RenderEMQXRules(id *Identities) ([]byte, error) {
	var gateways []Account
	for _, a := range id.Accounts {
		if a.Kind == KindGateway {
			gateways = append(gateways, a)
		}
	}
	return renderEMQXRules(gateways, id.ShareGroup)
}

// RenderEMQXServiceRules writes the rules of the alerting instances
// (alerting-0 .. alerting-<shards-1>: read every batch and status and
// shard n's control topics, publish replies) and the consoles (console-0
// .. console-<consoles-1>: publish commands and queries, read their own
// replies), for the same import as RenderEMQXRules. The collector's rights
// are static (deploy/kubernetes/emqx/cradlewatch-acl.conf). The accounts
// themselves are made by hand on the in-cluster listener's authenticator.
func RenderEMQXServiceRules(shards, consoles int) ([]byte, error) {
	if shards < 1 || shards > MaxInstances || consoles < 1 || consoles > MaxInstances {
		return nil, fmt.Errorf("emqx: shards %d, consoles %d: want 1 to %d each", shards, consoles, MaxInstances)
	}
	var services []Account
	for _, a := range Accounts(nil, shards, consoles) {
		if a.Kind == KindAlerting || a.Kind == KindConsole {
			services = append(services, a)
		}
	}
	return renderEMQXRules(services, DefaultShareGroup)
}

func renderEMQXRules(accounts []Account, shareGroup string) ([]byte, error) {
	out := []emqxUserRules{}
	for _, a := range accounts {
		g := a.Grants(shareGroup)
		u := emqxUserRules{Username: a.Username}
		for _, t := range g.Publish {
			u.Rules = append(u.Rules, emqxRule{Topic: t, Permission: "allow", Action: "publish"})
		}
		for _, t := range g.Subscribe {
			u.Rules = append(u.Rules, emqxRule{Topic: t, Permission: "allow", Action: "subscribe"})
		}
		out = append(out, u)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
