package e2e

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/netcut"
	"github.com/cradlewatch/cradlewatch/internal/promtext"
	"github.com/cradlewatch/cradlewatch/model"
)

// Helpers of the platform and backlog tests of the alerting service: a
// client that behaves towards the centre as a gateway does, a TCP path
// between it and the broker that a test can cut, and a reader of the
// service's metrics.

// centreGateway is a gateway's link to the centre as the real gateway makes
// it (gateway/gateway.go): client ID = gateway ID, a clean session, a
// retained offline last will, a retained online status on every connect and
// every statusEvery, reconnecting quickly. Its batches are crafted by the
// test, with the lanes and draining flags the gateway sets (docs/wire.md).
type centreGateway struct {
	id, facility string
	region       model.Region
	c            mqtt.Client
	stop         chan struct{}
	done         sync.WaitGroup
}

const statusEvery = 2 * time.Second

func newCentreGateway(t *testing.T, broker, facility string, region model.Region, id string) *centreGateway {
	t.Helper()
	g := &centreGateway{id: id, facility: facility, region: region, stop: make(chan struct{})}
	status := model.Topic(facility, id, model.SuffixStatus)
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200*time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetKeepAlive(30*time.Second).
		SetBinaryWill(status, model.EncodeStatus(model.Status{Gateway: id, Facility: facility, Region: region, State: model.GatewayOffline}), 1, true).
		SetOnConnectHandler(func(c mqtt.Client) { g.online(c) })
	g.c = mqtt.NewClient(o)
	if tok := g.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway %s: connect: %v", id, tok.Error())
	}
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		tick := time.NewTicker(statusEvery)
		defer tick.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-tick.C:
				if g.c.IsConnectionOpen() {
					g.online(g.c)
				}
			}
		}
	}()
	t.Cleanup(g.close)
	return g
}

func (g *centreGateway) online(c mqtt.Client) {
	st := model.Status{Gateway: g.id, Facility: g.facility, Region: g.region, State: model.GatewayOnline, TimeMs: time.Now().UnixMilli()}
	c.Publish(model.Topic(g.facility, g.id, model.SuffixStatus), 1, true, model.EncodeStatus(st))
}

// publish sends a batch as the gateway's uplink does.
func (g *centreGateway) publish(t *testing.T, b model.Batch) {
	t.Helper()
	b.Gateway, b.Facility, b.Region, b.Sent = g.id, g.facility, g.region, time.Now()
	tok := g.c.Publish(model.Topic(g.facility, g.id, model.SuffixBatch), 1, false, model.EncodeBatch(nil, &b))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway %s: publish batch: %v", g.id, tok.Error())
	}
}

// close stops the gateway for good; idempotent. While the broker is away
// the client just stops: the gateway is gone without a word.
func (g *centreGateway) close() {
	select {
	case <-g.stop:
		return
	default:
	}
	close(g.stop)
	g.done.Wait()
	g.c.Disconnect(0)
}

// cuttablePath is a TCP path from the gateways to the broker
// (internal/netcut): cut drops every connection at once (the broker sees
// the sockets close and hands out the last wills), as when the gateways'
// network or the broker's public listener fails while the centre itself is
// fine; mend lets them connect again.
type cuttablePath struct{ *netcut.Proxy }

func newCuttablePath(t *testing.T, target string) *cuttablePath {
	t.Helper()
	p, err := netcut.New(strings.TrimPrefix(target, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &cuttablePath{p}
}

// Addr is the broker URL through the path.
func (p *cuttablePath) Addr() string { return "tcp://" + p.Proxy.Addr() }

func (p *cuttablePath) cut()  { p.Cut() }
func (p *cuttablePath) mend() { p.Mend() }

// metric sums the samples of a metric on a /metrics page whose labels
// include every one of labels ("name=\"value\"").
func metric(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	v, _, err := promtext.Get(nil, url, name, labels...)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v
}

// waitMetric polls until the metric reaches want; false at the deadline.
func waitMetric(t *testing.T, url, name string, want float64, deadline time.Duration, labels ...string) bool {
	t.Helper()
	return poll(deadline, func() bool { return metric(t, url, name, labels...) >= want })
}

// patchRules replaces text in a rules file written by writeRulesOverlay.
func patchRules(t *testing.T, path string, oldNew ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s has no %q", path, oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// doorFacilityYAML is a facility with a door contact and a temperature
// sensor in one room, in zone, with one operator.
// Its gateway is registered as gw-<the ID's last four characters>.
func doorFacilityYAML(id string, region model.Region, zone, phone string) string {
	return fmt.Sprintf(`facility: {id: %q, name: 测试园%s, region: %q, timezone: %s}
gateways: [gw-%s]
rooms:
  - {id: room-1, name: 乳儿班, type: infant}
devices:
  - {id: door-1, room: room-1, source: door, address: d1, kinds: [door]}
  - {id: th-1, room: room-1, source: th, address: t1, kinds: [temperature]}
operators:
  - {name: 园长, phone: %q, role: director}
`, id, id[len(id)-4:], region, zone, id[len(id)-4:], phone)
}
