package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit/limittest"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/internal/ctlbus"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/shortlink"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// The test world: two facilities in county 110105 (one per street), one
// in county 110106, each with an operator whose name and phone must never
// reach a public page.
const (
	facA1 = "110105001-0001" // county A, street 001: the operator's
	facA2 = "110105002-0007" // county A, street 002
	facB1 = "110106003-0002" // county B
	fpA1  = "a1a1a1a1a1a1a1a1"
	fpA1b = "a1b2a1b2a1b2a1b2" // a second, acknowledged alert of A1
	fpB1  = "b1b1b1b1b1b1b1b1"
	// Personal data in the facility files, searched for in public pages.
	operatorName  = "张园长"
	operatorPhone = "13800001234"
	password      = "correct horse battery staple"
)

var facilityNames = map[string]string{facA1: "朝阳示例托育园", facA2: "朝阳第二托育园", facB1: "丰台示例托育园"}

// world is a running console on real parts.
type world struct {
	t       *testing.T
	c       *Console
	base    string
	influx  *influxd.Server
	owner   *owner
	links   *shortlink.Signer
	reg     *prometheus.Registry
	dataDir string
	// now is the instant the world starts at (worldStart unless the
	// options say otherwise); started is the real time it did.
	now     time.Time
	started time.Time
	// offset moves the console's clock (tokens and sessions expire)
	// further ahead, in nanoseconds.
	offset atomic.Int64
	// callbackSecrets are the providers' callback secrets, by provider.
	callbackSecrets map[string]string
	logs            *limittest.LogBuffer // the console's warnings and errors
}

// worldStart is when the test world's clock starts: 01:46 on the first of
// December in Beijing, still 30 November in UTC. The pages' months and
// days are the facility's, and a test must pass at whatever hour and day
// it runs, so the clock is pinned to an instant where UTC and Beijing
// disagree on the day and on the month. It is a workday: on a public
// holiday the facilities (open "mon-sun 00:00-24:00") are closed, no rule
// judges CO2, and the chart has no band (on the real clock, the chart
// test failed on National Day and at Spring Festival).
var worldStart = time.Date(2026, 11, 30, 17, 46, 0, 0, time.UTC)

// clock is the console's clock (and the fake owner's): it starts at now
// and runs with the real clock, moved by offset.
func (w *world) clock() time.Time {
	return w.now.Add(time.Since(w.started) + time.Duration(w.offset.Load()))
}

type worldOpts struct {
	postgresDSN string    // "" for SQLite
	ownerDown   bool      // no alerting instance answers
	start       time.Time // the clock's start; zero is worldStart
}

// Registration facts of facA2's file (facA1's file has none).
const (
	registrationA2   = "京朝卫托备字〔2025〕第0007号"
	registeredOnA2   = "2025-03-18"
	registrationYAML = "  registration: {number: \"" + registrationA2 + "\", date: \"" + registeredOnA2 + "\"}\n"
)

func facilityFile(id string) string {
	region := id[:9]
	registration := ""
	if id == facA2 {
		registration = registrationYAML
	}
	return fmt.Sprintf(`facility:
  id: %q
  name: %q
  region: %q
  timezone: Asia/Shanghai
  location: {lat: 39.9, lon: 116.4}
  opening_hours: ["mon-sun 00:00-24:00"]
`+registration+`gateways: [gw-%s]
operators:
  - {name: %s, phone: "+86%s", role: director}
rooms:
  - {id: infant-1, name: 乳儿班, type: infant}
  - {id: entrance, name: 门厅, type: entrance}
devices:
  - {id: aq-1, room: infant-1, source: zigbee2mqtt, address: "infant-1/air", kinds: [co2, temperature, humidity], interval: 60s}
  - {id: cam-1, room: entrance, source: nvr, address: cam-1, kinds: [camera_online, camera_recording], interval: 30s}
`, id, facilityNames[id], region, id, operatorName, operatorPhone)
}

// newWorld starts Mosquitto, influxd (seeded), the fake owner and the
// console, and creates the accounts.
func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	ctx := t.Context()
	if err := inf.CreateDatabase(ctx, "cradlewatch"); err != nil {
		t.Fatal(err)
	}
	data, secrets, facDir := t.TempDir(), t.TempDir(), t.TempDir()
	for id := range facilityNames {
		if err := os.WriteFile(filepath.Join(facDir, id+".yaml"), []byte(facilityFile(id)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := audit.GenerateKey(filepath.Join(secrets, "anchor.key")); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Ops.Listen = "127.0.0.1:0"
	cfg.Facilities = facDir
	cfg.Rules = filepath.Join("..", "configs", "rules.yaml")
	cfg.CalendarDir = filepath.Join("..", "configs", "calendar")
	cfg.Influx.URL = inf.URL()
	cfg.MQTT.Broker = broker.Addr()
	cfg.MQTT.ClientID = "console-test"
	cfg.Ctl.SecretFile = testenv.SecretFile(t, secrets, "ctl.key", 32)
	cfg.Ctl.ReadTimeout = time.Second
	cfg.Ctl.CommandTimeout = 5 * time.Second
	cfg.Shortlink.KeyFile = testenv.SecretFile(t, secrets, "shortlink.key", 32)
	cfg.RegionNames = map[string]string{"110105": "朝阳区", "110106": "丰台区"}
	// County B discloses nothing: its facilities have no public page.
	cfg.Disclosure.Regions = map[string][]string{"110106": {}}
	cfg.Access.Database.Path = filepath.Join(data, "access.db")
	if o.postgresDSN != "" {
		cfg.Access.Database.Driver = store.DriverPostgres
		dsnFile := filepath.Join(secrets, "dsn")
		os.WriteFile(dsnFile, []byte(o.postgresDSN), 0o600)
		cfg.Access.Database.DSNFile = dsnFile
	}
	cfg.Access.Audit.Chain = "console-test"
	cfg.Access.Audit.SpoolDir = filepath.Join(data, "audit")
	cfg.Access.Audit.AnchorKeyFile = filepath.Join(secrets, "anchor.key")
	cfg.Access.PhoneKeyFile = testenv.SecretFile(t, secrets, "phone.key", 32)
	cfg.Access.Sessions.InsecureCookies = true
	cfg.Callbacks.Aliyun.SecretFile = testenv.SecretFile(t, secrets, "aliyun-callback.key", 32)
	cfg.Callbacks.Tencent.SecretFile = testenv.SecretFile(t, secrets, "tencent-callback.key", 32)

	w := &world{t: t, influx: inf, reg: prometheus.NewRegistry(), dataDir: data, now: o.start, started: time.Now(), callbackSecrets: map[string]string{}}
	if w.now.IsZero() {
		w.now = worldStart
	}
	for p, f := range map[string]string{"aliyun": cfg.Callbacks.Aliyun.SecretFile, "tencent": cfg.Callbacks.Tencent.SecretFile} {
		b, _ := os.ReadFile(f)
		w.callbackSecrets[p] = string(b)
	}
	w.seed()
	key, _ := os.ReadFile(cfg.Ctl.SecretFile)
	if !o.ownerDown {
		w.owner = startOwner(t, broker, key, w.clock)
	}
	lk, _ := os.ReadFile(cfg.Shortlink.KeyFile)
	var err error
	if w.links, err = shortlink.New(lk); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.logs = &limittest.LogBuffer{}
	logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), w.logs), &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.c, err = New(ctx, Options{Config: cfg, DataDirs: []string{data}, Logger: logger, Registerer: w.reg, Gatherer: w.reg, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console run: %v", err)
		}
		w.c.Close()
	})
	w.base = "http://" + w.c.Addr()
	w.accounts()
	if w.owner != nil {
		w.waitBus()
	}
	return w
}

// waitBus waits until the console's replies subscription works: a read
// through the bus answers.
func (w *world) waitBus() {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, missing, err := w.c.backend.Alerts(w.t.Context(), Scope{Facilities: []string{facA1}}, model.Actor{Kind: "service", ID: "test"})
		if err == nil && len(missing) == 0 {
			return
		}
	}
	w.t.Fatal("the control bus never answered")
}

var admin = access.Principal{Kind: access.KindService, ID: "test", Name: "test", Role: access.RoleAdmin, Region: model.Nationwide()}

func (w *world) accounts() {
	ctx := w.t.Context()
	for _, a := range []struct {
		user string
		g    authn.Grant
	}{
		{"op-a", authn.Grant{Role: access.RoleOperator, Facilities: []string{facA1}}},
		{"street-a", authn.Grant{Role: access.RoleStreet, Region: model.MustRegionCode("110105001")}},
		{"county-a", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}},
		{"county-b", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110106")}},
		{"auditor-a", authn.Grant{Role: access.RoleAuditor, Region: model.MustRegionCode("110105")}},
	} {
		if _, err := w.c.kit.Auth.CreateAccount(ctx, admin, a.user, a.user, password, a.g); err != nil {
			w.t.Fatal(err)
		}
	}
}

// seed writes what the pages read: gateway status, readings, alert
// events and two months of compliance rollups.
func (w *world) seed() {
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	tags := func(id string) string {
		r := model.Region(id[:9])
		return fmt.Sprintf("province=%s,city=%s,county=%s,street=%s,facility=%s", r.Province(), r.City(), r.County(), string(r), id)
	}
	var b strings.Builder
	now := w.now
	fmt.Fprintf(&b, "gateway_status,%s,gateway=gw-%s online=1,spool_depth=0 %d\n", tags(facA1), facA1, ms(now.Add(-time.Minute)))
	fmt.Fprintf(&b, "gateway_status,%s,gateway=gw-%s online=0,spool_depth=0 %d\n", tags(facA2), facA2, ms(now.Add(-2*time.Hour)))
	fmt.Fprintf(&b, "gateway_status,%s,gateway=gw-%s online=1,spool_depth=0 %d\n", tags(facB1), facB1, ms(now.Add(-time.Minute)))
	for _, id := range []string{facA1, facA2, facB1} {
		for i := 0; i < 60; i++ {
			at := now.Add(-time.Duration(60-i) * time.Minute)
			fmt.Fprintf(&b, "co2,%s,room=infant-1,device=aq-1 value=%d %d\n", tags(id), 800+i*15, ms(at))
			fmt.Fprintf(&b, "temperature,%s,room=infant-1,device=aq-1 value=%.1f %d\n", tags(id), 24.5, ms(at))
		}
	}
	ev := func(id, fp, state string, at time.Time, extra string) {
		fmt.Fprintf(&b, "alert_event,%s,room=infant-1,device=aq-1,rule=co2_early,severity=warning,state=%s fingerprint=%q,value=1600,limit=1500,message=\"二氧化碳浓度偏高\"%s %d\n",
			tags(id), state, fp, extra, ms(at))
	}
	ev(facA1, fpA1, "firing", now.Add(-20*time.Minute), "")
	ev(facB1, fpB1, "firing", now.Add(-30*time.Minute), "")
	// Last month, the facility's (the pages' months are its calendar's, not
	// UTC's): two alerts at A1, one acknowledged in 10 minutes, one in 2 hours.
	local := now.In(zone)
	last := time.Date(local.Year(), local.Month(), 1, 12, 0, 0, 0, zone).AddDate(0, -1, 3)
	ev(facA1, "c0c0c0c0c0c0c0c0", "firing", last, "")
	ev(facA1, "c0c0c0c0c0c0c0c0", "acknowledged", last.Add(10*time.Minute), `,ack_seconds=600,actor="person:x"`)
	ev(facA1, "d0d0d0d0d0d0d0d0", "firing", last.Add(24*time.Hour), "")
	ev(facA1, "d0d0d0d0d0d0d0d0", "acknowledged", last.Add(26*time.Hour), `,ack_seconds=7200,actor="person:x"`)
	for _, id := range []string{facA1, facB1} {
		for d := 0; d < 5; d++ {
			at := last.Add(time.Duration(d) * 24 * time.Hour)
			fmt.Fprintf(&b, "compliance_hourly,%s open_minutes=60,data_minutes=57,camera_minutes=60,camera_online_minutes=54,camera_recording_minutes=54,co2_minutes=60,co2_ok_minutes=45,temperature_minutes=60,temperature_ok_minutes=60,alerts_fired=0 %d\n",
				tags(id), ms(at))
		}
	}
	if err := w.influx.Write(w.t.Context(), "cradlewatch", b.String()); err != nil {
		w.t.Fatal(err)
	}
}

// owner is a fake alerting instance: a ctlbus.Responder on the real
// broker whose handler keeps alerts and silences in memory and answers
// with the reply bodies of model/control.go.
type owner struct {
	clock  func() time.Time // the world's
	mu     sync.Mutex
	alerts map[string]*model.AlertView
	// codes are the acknowledgement codes sent by SMS: code → the alert and
	// the pseudonym of the number it went to.
	codes    map[string]sentCode
	silences []model.SilenceView
	applied  []model.Command
	regions  map[string]string
}

func startOwner(t *testing.T, b *testenv.Broker, key []byte, clock func() time.Time) *owner {
	now := clock().UTC().Truncate(time.Second)
	ow := &owner{clock: clock, alerts: map[string]*model.AlertView{}, regions: map[string]string{}, codes: map[string]sentCode{}}
	for id := range facilityNames {
		ow.regions[id] = id[:9]
	}
	add := func(fac, fp, state string, fired time.Time) {
		a := &model.AlertView{Fingerprint: fp, Rule: "co2_early", Severity: "warning", State: state, Facility: fac, Room: "infant-1",
			Device: "aq-1", Kind: "co2", Value: 1600, Limit: 1500, Unit: "ppm", Message: "二氧化碳浓度偏高", StartedAt: fired.Add(-10 * time.Second),
			FiredAt: fired, History: []model.AlertTransition{{At: fired, From: "pending", To: "firing"}}}
		if state == "acknowledged" {
			a.AcknowledgedAt, a.AcknowledgedBy, a.AcknowledgedByName = fired.Add(time.Minute), "person:earlier", "earlier"
			a.History = append(a.History, model.AlertTransition{At: a.AcknowledgedAt, From: "firing", To: "acknowledged", Actor: "person:earlier"})
		}
		ow.alerts[fp] = a
	}
	add(facA1, fpA1, "firing", now.Add(-20*time.Minute))
	add(facA1, fpA1b, "acknowledged", now.Add(-50*time.Minute))
	add(facB1, fpB1, "firing", now.Add(-30*time.Minute))
	// A1 was silenced three days last week: the cap counts it.
	ow.silences = append(ow.silences, model.SilenceView{ID: "s0", Facility: facA1, Start: now.Add(-10 * 24 * time.Hour),
		End: now.Add(-7 * 24 * time.Hour), Reason: "装修", CreatedBy: "person:earlier"})
	var r *ctlbus.Responder
	client, err := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: b.Addr(), ClientID: "alerting-0"}, CleanSession: true, AutoAck: true,
		OnConnect: func(c mqtt.Client) {
			if err := mqttx.Subscribe(c, r.Filter(), 1, r.Handle); err != nil {
				t.Errorf("owner subscribe: %v", err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	r, err = ctlbus.NewResponder(ctlbus.ResponderOptions{Client: client, Shard: 0, Secret: key, Owns: func(string) bool { return true },
		Handler: ow.handle, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := mqttx.Connect(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; client.Disconnect(100) })
	return ow
}

func body(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

type sentCode struct{ fp, phoneKey string }

// sendCode records that code of alert fp went by SMS to the number whose
// pseudonym is phoneKey.
func (ow *owner) sendCode(code, fp, phoneKey string) {
	ow.mu.Lock()
	defer ow.mu.Unlock()
	ow.codes[code] = sentCode{fp, phoneKey}
}

// state is the state of alert fp.
func (ow *owner) state(fp string) string {
	ow.mu.Lock()
	defer ow.mu.Unlock()
	return ow.alerts[fp].State
}

// acknowledge marks a firing alert acknowledged by c's actor.
func (ow *owner) acknowledge(a *model.AlertView, c model.Command) {
	if a.State != "firing" {
		return
	}
	at := ow.clock().UTC()
	a.State, a.AcknowledgedAt, a.AcknowledgedBy, a.AcknowledgedByName = "acknowledged", at, c.Actor.String(), c.Actor.Name
	a.History = append(a.History, model.AlertTransition{At: at, From: "firing", To: "acknowledged", Actor: c.Actor.String(),
		ActorName: c.Actor.Name, Note: c.Comment})
}

func (ow *owner) inScope(c model.Command, facility string) bool {
	if len(c.Facilities) > 0 {
		return slices.Contains(c.Facilities, facility)
	}
	return strings.HasPrefix(ow.regions[facility], c.Region)
}

func (ow *owner) handle(_ context.Context, c model.Command) model.Reply {
	ow.mu.Lock()
	defer ow.mu.Unlock()
	ow.applied = append(ow.applied, c)
	switch c.Kind {
	case model.CommandAlert:
		if a := ow.alerts[c.Ref]; a != nil && a.Facility == c.Facility {
			return model.Reply{Status: model.ReplyOK, Body: body(a)}
		}
		return model.Reply{Status: model.ReplyNotFound, Error: "no such alert"}
	case model.CommandAlerts:
		out := []model.AlertView{}
		for _, a := range ow.alerts {
			if ow.inScope(c, a.Facility) {
				x := *a
				x.History = nil
				out = append(out, x)
			}
		}
		return model.Reply{Status: model.ReplyOK, Body: body(out)}
	case model.CommandAck:
		a := ow.alerts[c.Ref]
		if a == nil || a.Facility != c.Facility || (a.State != "firing" && a.State != "acknowledged") {
			return model.Reply{Status: model.ReplyNotFound, Error: "no open alert"}
		}
		ow.acknowledge(a, c)
		return model.Reply{Status: model.ReplyOK, Body: body(a)}
	case model.CommandAckCode:
		sc, ok := ow.codes[c.Ref]
		a := ow.alerts[sc.fp]
		if !ok || a == nil || sc.phoneKey != c.PhoneKey || (a.State != "firing" && a.State != "acknowledged") {
			return model.Reply{Status: model.ReplyNotFound}
		}
		ow.acknowledge(a, c)
		return model.Reply{Status: model.ReplyOK, Body: body(a)}
	case model.CommandSilence:
		s := model.SilenceView{ID: fmt.Sprintf("s%d", len(ow.silences)+1), Facility: c.Facility, Start: c.Start, End: c.End, Reason: c.Reason,
			CreatedBy: c.Actor.String(), CreatedAt: ow.clock().UTC()}
		ow.silences = append(ow.silences, s)
		return model.Reply{Status: model.ReplyOK, Body: body(s)}
	case model.CommandUnsilence:
		for i := range ow.silences {
			if ow.silences[i].ID == c.SilenceID && ow.silences[i].Facility == c.Facility {
				ow.silences[i].EndedAt = ow.clock().UTC()
				return model.Reply{Status: model.ReplyOK, Body: body(ow.silences[i])}
			}
		}
		return model.Reply{Status: model.ReplyNotFound}
	case model.CommandSilences:
		out := []model.SilenceView{}
		for _, s := range ow.silences {
			if ow.inScope(c, s.Facility) {
				out = append(out, s)
			}
		}
		return model.Reply{Status: model.ReplyOK, Body: body(out)}
	}
	return model.Reply{Status: model.ReplyInvalid, Error: "unknown command"}
}

func (ow *owner) commands(kind model.CommandKind) []model.Command {
	ow.mu.Lock()
	defer ow.mu.Unlock()
	var out []model.Command
	for _, c := range ow.applied {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// client is a person's browser without JavaScript: a cookie jar, no
// automatic redirects.
type client struct {
	w   *world
	h   *http.Client
	jar http.CookieJar
}

func (w *world) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, jar: jar, h: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *world) login(user string) *client {
	c := w.client()
	resp := c.post("/login", url.Values{"username": {user}, "password": {password}, "return_to": {"/"}})
	if resp.status != http.StatusSeeOther {
		w.t.Fatalf("login %s: %d %s", user, resp.status, resp.body)
	}
	return c
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.w.t.Helper()
	resp, err := c.h.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) get(path string) response {
	c.w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.w.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, headers ...string) response {
	c.w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.w.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// auditRecords returns the access database's audit records of a
// facility and action, after flushing the console's buffer.
func (w *world) auditRecords(facility, action string) []audit.Record {
	w.t.Helper()
	if err := w.c.kit.Audit.Flush(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
	rows, err := w.c.kit.Store.AuditRecords(w.t.Context(), facility, action, time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

// lastMonth is the facility's calendar month before t's, as 2006-01.
func lastMonth(t time.Time) string {
	y, m, _ := t.In(zone).Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, zone).Format("2006-01")
}
