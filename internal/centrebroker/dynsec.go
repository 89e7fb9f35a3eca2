package centrebroker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Mosquitto's dynamic-security plugin (2.0) keeps clients, roles and the
// default access in one JSON file, read when the broker starts. The shapes
// below are the part of that file this package writes and reads back.
type dynsecFile struct {
	DefaultACLAccess map[string]bool `json:"defaultACLAccess"`
	Clients          []dynsecClient  `json:"clients"`
	Groups           []any           `json:"groups"`
	Roles            []dynsecRole    `json:"roles"`
}

type dynsecClient struct {
	Username   string          `json:"username"`
	TextName   string          `json:"textname,omitempty"`
	ClientID   string          `json:"clientid,omitempty"`
	Password   string          `json:"password,omitempty"`
	Salt       string          `json:"salt,omitempty"`
	Iterations int             `json:"iterations,omitempty"`
	Roles      []dynsecRoleRef `json:"roles"`
}

type dynsecRoleRef struct {
	Rolename string `json:"rolename"`
}

type dynsecRole struct {
	Rolename string      `json:"rolename"`
	ACLs     []dynsecACL `json:"acls"`
}

type dynsecACL struct {
	ACLType  string `json:"acltype"`
	Topic    string `json:"topic"`
	Priority int    `json:"priority"`
	Allow    bool   `json:"allow"`
}

// roleName is the dynamic-security role holding an account's grants.
func roleName(a Account) string {
	if a.Kind == KindGateway {
		return "gateway:" + a.Username
	}
	return a.Username
}

// RenderDynsec writes the dynamic-security file: every account with its
// credential, its bound client ID (gateways) and a role with its grants;
// everything not granted is denied (defaultACLAccess), unsubscribing
// excepted.
func RenderDynsec(id *Identities) ([]byte, error) {
	f := dynsecFile{
		// Deny by default; without this the plugin lets every client
		// receive whatever it managed to subscribe to.
		DefaultACLAccess: map[string]bool{"publishClientSend": false, "publishClientReceive": false, "subscribe": false, "unsubscribe": true},
		Groups:           []any{},
	}
	for _, a := range id.Accounts {
		c, ok := id.Credentials[a.Username]
		if !ok {
			return nil, fmt.Errorf("dynamic security: no credential for %q", a.Username)
		}
		text := "CradleWatch " + a.Kind.String()
		switch a.Kind {
		case KindGateway:
			text = "gateway of facility " + a.Facility
		case KindAlerting:
			text = fmt.Sprintf("CradleWatch alerting, shard %d", a.Index)
		case KindConsole:
			text = fmt.Sprintf("CradleWatch console %d (front door)", a.Index)
		}
		f.Clients = append(f.Clients, dynsecClient{
			Username: a.Username, TextName: text, ClientID: a.ClientID,
			Password: base64.StdEncoding.EncodeToString(c.Key), Salt: base64.StdEncoding.EncodeToString(c.Salt), Iterations: c.Iterations,
			Roles: []dynsecRoleRef{{Rolename: roleName(a)}},
		})
		g := a.Grants(id.ShareGroup)
		r := dynsecRole{Rolename: roleName(a)}
		add := func(typ string, topics []string) {
			for _, t := range topics {
				r.ACLs = append(r.ACLs, dynsecACL{ACLType: typ, Topic: t, Allow: true})
			}
		}
		add("publishClientSend", g.Publish)
		add("subscribeLiteral", g.Subscribe)
		add("subscribePattern", g.SubscribePatterns)
		add("publishClientReceive", g.Receive)
		f.Roles = append(f.Roles, r)
	}
	sort.Slice(f.Roles, func(i, j int) bool { return f.Roles[i].Rolename < f.Roles[j].Rolename })
	out, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ParseDynsec reads the credentials of a dynamic-security file, by
// username, so a new run keeps them.
func ParseDynsec(data []byte) (map[string]Credential, error) {
	var f dynsecFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("dynamic security file: %w", err)
	}
	out := map[string]Credential{}
	for i, c := range f.Clients {
		if c.Password == "" {
			continue // no password: it could not log in anyway
		}
		key, err1 := base64.StdEncoding.DecodeString(c.Password)
		salt, err2 := base64.StdEncoding.DecodeString(c.Salt)
		if err1 != nil || err2 != nil || c.Iterations <= 0 {
			return nil, fmt.Errorf("dynamic security file: clients[%d] (%q): password, salt or iterations unreadable", i, c.Username)
		}
		out[c.Username] = Credential{Salt: salt, Key: key, Iterations: c.Iterations}
	}
	return out, nil
}

func sortStrings(s []string) { sort.Strings(s) }

// DynsecWillCheck builds a WillCheck from a dynamic-security file: an
// account with a bound client ID (a gateway, an alerting instance, a
// console) may name in its last will only a topic its roles let it publish
// to. The collector's account, shared by its instances, is not checked.
func DynsecWillCheck(data []byte) (WillCheck, error) {
	var f dynsecFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("dynamic security file: %w", err)
	}
	roles := map[string][]string{}
	for _, r := range f.Roles {
		for _, a := range r.ACLs {
			if a.ACLType == "publishClientSend" && a.Allow {
				roles[r.Rolename] = append(roles[r.Rolename], a.Topic)
			}
		}
	}
	allowed := map[string][]string{}
	for _, c := range f.Clients {
		if c.ClientID == "" {
			continue
		}
		topics := []string{}
		for _, r := range c.Roles {
			topics = append(topics, roles[r.Rolename]...)
		}
		allowed[c.Username] = topics
	}
	return func(username, topic string) (bool, bool) {
		filters, known := allowed[username]
		if !known {
			return false, false
		}
		for _, f := range filters {
			if topicMatches(f, topic) {
				return true, true
			}
		}
		return true, false
	}, nil
}

// topicMatches reports whether topic matches the MQTT filter.
func topicMatches(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		switch {
		case f == "#":
			return true
		case i >= len(ts):
			return false
		case f != "+" && f != ts[i]:
			return false
		}
	}
	return len(fs) == len(ts)
}
