package centrebroker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

func registry(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadFacilitiesRefuses: a careless registry fails naming file, key and
// reason, before any account is written.
func TestLoadFacilitiesRefuses(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		key   string
		want  string
	}{
		{"gateway in two facilities", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [gw-1]\n", "b.yaml": "facility: {id: f2}\ngateways: [gw-1]\n"}, "gateways", "also listed in"},
		{"same facility twice", map[string]string{"a.yaml": "facility: {id: f1}\n", "b.yaml": "facility: {id: f1}\n"}, "facility.id", "also the id"},
		{"gateway listed twice", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [gw-1, gw-1]\n"}, "gateways[1]", "listed twice"},
		{"service name", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [collector]\n"}, "gateways[0]", "service account"},
		{"service pod name", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [alerting-0]\n"}, "gateways[0]", "service account"},
		{"console pod name", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [console-1]\n"}, "gateways[0]", "service account"},
		{"service prefix", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [cw-collector-1]\n"}, "gateways[0]", "service instances"},
		{"wildcard in an ID", map[string]string{"a.yaml": "facility: {id: f1}\ngateways: [\"gw/+\"]\n"}, "gateways[0]", "gateway id"},
		{"no facility id", map[string]string{"a.yaml": "gateways: [gw-1]\n"}, "facility.id", "empty"},
		{"broken YAML", map[string]string{"a.yaml": "facility: [\n"}, "", "yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadFacilities(registry(t, c.files))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != c.key || !strings.Contains(ce.Error(), c.want) {
				t.Fatalf("err = %v, want a config.Error on key %q saying %q", err, c.key, c.want)
			}
		})
	}
}

// TestGenerateKeepsAndDrops: a second run keeps working passwords, creates
// new ones only for new gateways, ends removed gateways' access, and a
// password given for an account that does not exist is an error.
func TestGenerateKeepsAndDrops(t *testing.T) {
	dir := registry(t, map[string]string{"f1.yaml": "facility: {id: f1}\ngateways: [gw-1, gw-2]\n"})
	facilities, err := LoadFacilities(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := Generate(Options{Facilities: facilities, Passwords: map[string]string{"collector": "c-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.New) != 4 { // alerting-0, console-0, gw-1, gw-2
		t.Fatalf("new accounts = %+v", first.New)
	}
	previous := writtenCredentials(t, first)
	for _, n := range first.New {
		if !previous[n.Username].Matches(n.Password) {
			t.Errorf("%s: the written hash does not match the sheet's password", n.Username)
		}
	}
	if !previous["collector"].Matches("c-pw") || previous["collector"].Matches("other") {
		t.Error("collector's given password not hashed")
	}

	// gw-2 leaves, gw-3 arrives.
	if err := os.WriteFile(filepath.Join(dir, "f1.yaml"), []byte("facility: {id: f1}\ngateways: [gw-1, gw-3]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if facilities, err = LoadFacilities(dir); err != nil {
		t.Fatal(err)
	}
	second, err := Generate(Options{Facilities: facilities, Previous: previous})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.New) != 1 || second.New[0].Username != "gw-3" || second.New[0].Facility != "f1" {
		t.Errorf("new = %+v, want gw-3 only", second.New)
	}
	if strings.Join(second.Dropped, ",") != "gw-2" {
		t.Errorf("dropped = %v, want gw-2", second.Dropped)
	}
	if !bytes.Equal(second.Credentials["gw-1"].Key, previous["gw-1"].Key) {
		t.Error("gw-1's credential changed")
	}
	if _, err := Generate(Options{Facilities: facilities, Passwords: map[string]string{"gw-2": "x"}}); err == nil {
		t.Error("a password for a removed gateway was accepted")
	}
	if _, err := Generate(Options{Facilities: facilities, ShareGroup: "a/b"}); err == nil {
		t.Error("a share group with a slash was accepted")
	}

	// A third shard and a second console: their accounts are new, every
	// other keeps its credential; back to one shard ends alerting-1 and -2.
	third, err := Generate(Options{Facilities: facilities, Previous: writtenCredentials(t, second), Shards: 3, Consoles: 2})
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, n := range third.New {
		created = append(created, n.Username)
	}
	if strings.Join(created, ",") != "alerting-1,alerting-2,console-1" || len(third.Dropped) != 0 {
		t.Errorf("new = %v, dropped = %v; want alerting-1, alerting-2, console-1 and none", created, third.Dropped)
	}
	fourth, err := Generate(Options{Facilities: facilities, Previous: writtenCredentials(t, third), Shards: 1, Consoles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(fourth.New) != 0 || strings.Join(fourth.Dropped, ",") != "alerting-1,alerting-2" {
		t.Errorf("new = %+v, dropped = %v; want none and alerting-1, alerting-2", fourth.New, fourth.Dropped)
	}
	for _, o := range []Options{{Shards: -1}, {Consoles: MaxInstances + 1}, {Passwords: map[string]string{"alerting-1": "x"}}} {
		o.Facilities = facilities
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) accepted", o)
		}
	}
}

// writtenCredentials is what a later run reads back of id's
// dynamic-security file.
func writtenCredentials(t *testing.T, id *Identities) map[string]Credential {
	t.Helper()
	data, err := RenderDynsec(id)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ParseDynsec(data)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// TestRenderedRights checks the rights the broker gets, in both formats.
func TestRenderedRights(t *testing.T) {
	facilities := []Facility{{ID: "f1", Gateways: []string{"gw-1"}}}
	id, err := Generate(Options{Facilities: facilities, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	data, err := RenderDynsec(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"clientid": "gw-1"`, `"publishClientSend": false`, `"subscribe": false`, `"publishClientReceive": false`,
		`"topic": "$share/cw-collector/cw/v1/+/+/batch"`, `"topic": "cw/v1/f1/gw-1/batch"`,
		`"clientid": "cw-alerting-1"`, `"clientid": "cw-console-0"`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("dynamic-security file lacks %s", want)
		}
	}
	// The control bus, account by account (docs/security.md).
	rights := map[string]Grants{}
	for _, a := range id.Accounts {
		rights[a.Username] = a.Grants(id.ShareGroup)
	}
	for _, c := range []struct {
		user string
		want Grants
	}{
		{"alerting-1", Grants{Publish: []string{"cw/ctl/v1/reply/+/+"}, Subscribe: []string{"cw/v1/+/+/batch", "cw/v1/+/+/status", "cw/ctl/v1/1/#"},
			Receive: []string{"cw/v1/+/+/batch", "cw/v1/+/+/status", "cw/ctl/v1/1/#"}}},
		{"console-0", Grants{Publish: []string{"cw/ctl/v1/+/cmd/+", "cw/ctl/v1/+/query"}, Subscribe: []string{"cw/ctl/v1/reply/cw-console-0/+"},
			Receive: []string{"cw/ctl/v1/reply/cw-console-0/+"}}},
	} {
		if got := rights[c.user]; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s's rights:\n got %+v\nwant %+v", c.user, got, c.want)
		}
	}
	for user, g := range rights {
		if user == "alerting-0" || user == "alerting-1" || user == "console-0" {
			continue
		}
		for _, list := range [][]string{g.Publish, g.Subscribe, g.SubscribePatterns, g.Receive} {
			for _, f := range list {
				if strings.Contains(f, "cw/ctl") || f == "#" {
					t.Errorf("%s may use %s", user, f)
				}
			}
		}
	}
	check, err := DynsecWillCheck(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, topic   string
		known, wantOK bool
	}{
		{"gw-1", "cw/v1/f1/gw-1/status", true, true},
		{"gw-1", "cw/v1/f2/gw-2/status", true, false},
		{"collector", "cw/v1/f2/gw-2/status", false, false},
	} {
		if known, ok := check(c.user, c.topic); known != c.known || ok != c.wantOK {
			t.Errorf("will %s on %s: known %v allowed %v", c.user, c.topic, known, ok)
		}
	}

	users, err := RenderEMQXUsers(id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEMQXUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || !bytes.Equal(back["gw-1"].Key, id.Credentials["gw-1"].Key) || !bytes.Equal(back["gw-1"].Salt, id.Credentials["gw-1"].Salt) {
		t.Errorf("EMQX users round trip: %+v", back)
	}
	rules, err := RenderEMQXRules(id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "collector") || !strings.Contains(string(rules), `"topic": "cw/v1/f1/gw-1/ack"`) {
		t.Errorf("EMQX rules:\n%s", rules)
	}
	services, err := RenderEMQXServiceRules(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	var parsed []emqxUserRules
	if err := json.Unmarshal(services, &parsed); err != nil {
		t.Fatal(err)
	}
	byUser := map[string][]string{}
	for _, u := range parsed {
		for _, r := range u.Rules {
			byUser[u.Username] = append(byUser[u.Username], r.Action+" "+r.Topic)
		}
	}
	want := map[string][]string{
		"alerting-0": {"publish cw/ctl/v1/reply/+/+", "subscribe cw/v1/+/+/batch", "subscribe cw/v1/+/+/status", "subscribe cw/ctl/v1/0/#"},
		"alerting-1": {"publish cw/ctl/v1/reply/+/+", "subscribe cw/v1/+/+/batch", "subscribe cw/v1/+/+/status", "subscribe cw/ctl/v1/1/#"},
		"console-0":  {"publish cw/ctl/v1/+/cmd/+", "publish cw/ctl/v1/+/query", "subscribe cw/ctl/v1/reply/cw-console-0/+"},
	}
	if fmt.Sprint(byUser) != fmt.Sprint(want) {
		t.Errorf("EMQX service rules:\n got %v\nwant %v", byUser, want)
	}
	if _, err := RenderEMQXServiceRules(0, 1); err == nil {
		t.Error("EMQX service rules for no shard")
	}
}
