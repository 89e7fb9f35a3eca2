package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// deployment is what the front door and the alerting instances of a test
// share, as in production: the control bus secret, the phone pseudonym
// key, the short-link key, the audit anchor key (outside every data
// directory), an SMS provider's callback secret, and one access database
// (SQLite or PostgreSQL).
type deployment struct {
	t                                          *testing.T
	dir                                        string
	ctl, phone, links, anchor, aliyun, dsnFile string
	driver, dsn                                string
	shards                                     int
	// consoleLogin, when set, is the front door's broker account: its
	// client ID, username and password (the broker given to
	// startFrontDoor stays).
	consoleLogin *mqttx.Config
}

// newDeployment makes the secrets in dir/secrets and the access database
// of the engine: SQLite in dir, or a fresh database on pg.
func newDeployment(t *testing.T, dir string, shards int, pg *testenv.PostgresServer) *deployment {
	t.Helper()
	sec := filepath.Join(dir, "secrets")
	d := &deployment{t: t, dir: dir, shards: shards, driver: store.DriverSQLite, dsn: filepath.Join(dir, "access.db"),
		ctl: ensureSecret(t, filepath.Join(sec, "ctl.key")), phone: ensureSecret(t, filepath.Join(sec, "phone.key")),
		links: ensureSecret(t, filepath.Join(sec, "shortlink.key")), aliyun: ensureSecret(t, filepath.Join(sec, "aliyun-callback.key")),
		anchor: filepath.Join(sec, "anchor.key")}
	if _, err := audit.GenerateKey(d.anchor); err != nil {
		t.Fatal(err)
	}
	if pg != nil {
		d.driver, d.dsn = store.DriverPostgres, pg.CreateDatabase("cw_access_e2e")
		d.dsnFile = filepath.Join(sec, "access.dsn")
		if err := os.WriteFile(d.dsnFile, []byte(d.dsn), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// alerting makes cfg instance shard of the deployment: its shard, the
// shared secrets and database, its own audit chain alerting-<shard>.
func (d *deployment) alerting(cfg *alerting.Config, shard int) {
	cfg.Shard = alerting.ShardConfig{Index: shard, Count: d.shards}
	cfg.Ctl.SecretFile = d.ctl
	a := &cfg.Access
	a.Database.Driver, a.Database.Path, a.Database.DSNFile = d.driver, "", ""
	if d.driver == store.DriverSQLite {
		a.Database.Path = d.dsn
	} else {
		a.Database.DSNFile = d.dsnFile
	}
	a.PhoneKeyFile = d.phone
	a.Audit.Chain = "alerting-" + string(rune('0'+shard))
	a.Audit.SpoolDir = cfg.StateDir + ".audit"
	a.Audit.AnchorKeyFile = d.anchor
}

// frontDoor is the console serving the JSON API, in this process.
type frontDoor struct {
	d      *deployment
	c      *console.Console
	base   string
	cancel context.CancelFunc
	done   chan error
}

// startFrontDoor runs the console on the deployment's registry folder,
// rules, InfluxDB and broker until the test ends (or stop).
func (d *deployment) startFrontDoor(broker, influxURL, facDir, rules string) *frontDoor {
	t := d.t
	t.Helper()
	cfg := console.DefaultConfig()
	cfg.HTTP.Listen, cfg.Ops.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.HTTP.PublicURL = "http://127.0.0.1"
	cfg.Facilities, cfg.Rules, cfg.CalendarDir = facDir, rules, ""
	cfg.Influx.URL, cfg.Influx.Database = influxURL, db
	cfg.MQTT.Broker, cfg.MQTT.ClientID = broker, "cw-console-e2e"
	if l := d.consoleLogin; l != nil {
		cfg.MQTT.ClientID, cfg.MQTT.Username, cfg.MQTT.Password = l.ClientID, l.Username, l.Password
	}
	cfg.Ctl.SecretFile, cfg.Ctl.Shards = d.ctl, d.shards
	cfg.Ctl.CommandTimeout, cfg.Ctl.ReadTimeout = 10*time.Second, 3*time.Second
	cfg.Shortlink.KeyFile = d.links
	cfg.Callbacks.Aliyun.SecretFile = d.aliyun
	a := &cfg.Access
	a.Database.Driver = d.driver
	if d.driver == store.DriverSQLite {
		a.Database.Path = d.dsn
	} else {
		a.Database.DSNFile = d.dsnFile
	}
	data := filepath.Join(d.dir, "console")
	a.PhoneKeyFile, a.Audit.Chain, a.Audit.SpoolDir, a.Audit.AnchorKeyFile = d.phone, "console-e2e", filepath.Join(data, "audit"), d.anchor
	a.Sessions.InsecureCookies = true
	reg := prometheus.NewRegistry()
	c, err := console.New(t.Context(), console.Options{Config: cfg, DataDirs: []string{data}, Logger: testLogger(t), Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatalf("front door: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &frontDoor{d: d, c: c, base: "http://" + c.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- c.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

// stop ends the console (its audit records are stored on the way out).
func (f *frontDoor) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	if err := <-f.done; err != nil {
		f.d.t.Errorf("front door: %v", err)
	}
	f.c.Close()
	f.cancel = nil
}

// person is someone with an account, using the API with a session (as a
// browser does) or a token (as a machine does).
type person struct {
	f     *frontDoor
	id    string
	token string
	http  *http.Client
}

var testAdmin = access.Principal{Kind: access.KindService, ID: "e2e", Name: "e2e", Role: access.RoleAdmin, Region: model.Nationwide()}

// account creates user with grant g and logs in; with token, the person
// uses an API token of the same grant instead of the session.
func (f *frontDoor) account(user string, g authn.Grant, token bool) *person {
	t := f.d.t
	t.Helper()
	const pw = "correct horse battery staple"
	acc, err := f.c.Authenticator().CreateAccount(t.Context(), testAdmin, user, user, pw, g)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	p := &person{f: f, id: acc.ID, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if token {
		tok, rec, err := f.c.Authenticator().IssueToken(t.Context(), testAdmin, user+"-token", g, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p.token, p.id = tok, rec.ID
		return p
	}
	resp, err := p.http.PostForm(f.base+"/login", map[string][]string{"username": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	return p
}

// do calls the API and decodes a 2xx answer into out.
func (p *person) do(method, path string, body, out any) (int, string) {
	t := p.f.d.t
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.f.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, string(b)
}

// waitAllShards waits until a list through the front door is answered by
// every alerting instance: their control subscriptions are made.
func (p *person) waitAllShards() {
	t := p.f.d.t
	t.Helper()
	var last string
	if !poll(30*time.Second, func() bool {
		var got console.AlertsJSON
		code, body := p.do("GET", "/api/v1/alerts", nil, &got)
		last = body
		return code == http.StatusOK && !got.Incomplete
	}) {
		t.Fatalf("the alerting instances never all answered the front door: %s", last)
	}
}

// pushSMSReply posts an Aliyun SmsUp push of one reply to the front door's
// callback (its secret in the path).
func (f *frontDoor) pushSMSReply(phone, text string) (int, string) {
	t := f.d.t
	t.Helper()
	secret, err := os.ReadFile(f.d.aliyun)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal([]map[string]any{{"phone_number": phone, "content": text, "send_time": "2026-05-12 09:01:00",
		"dest_code": "1234", "sequence_id": 1}})
	resp, err := http.Post(f.base+"/api/v1/sms/aliyun/"+strings.TrimSpace(string(secret)), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cwadmin runs the administration tool (built once per test run) on the
// deployment's database and returns its exit status and output.
func (d *deployment) cwadmin(args ...string) (int, string) {
	t := d.t
	t.Helper()
	bin := goBinary(t, "cwadmin")
	db := []string{"-driver", d.driver}
	if d.driver == store.DriverSQLite {
		db = append(db, "-dsn", d.dsn)
	} else {
		db = append(db, "-dsn-file", d.dsnFile)
	}
	cmd := exec.Command(bin, append(args, db...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// store opens the deployment's access database.
func (d *deployment) store() *store.Store {
	d.t.Helper()
	st, err := store.Open(d.t.Context(), store.Options{Driver: d.driver, DSN: d.dsn})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { st.Close() })
	return st
}
