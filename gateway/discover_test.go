package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// TestDiscover lists what publishes on the local broker as a devices:
// section ready to paste into the facility file.
func TestDiscover(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := DefaultConfig()
	if err := config.Load("../configs/gateway.example.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Local.MQTT.Broker = b.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, _ := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: b.Addr(), ClientID: "sensors"}, AutoAck: true})
	if err := mqttx.Connect(ctx, pub); err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(50)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				pub.Publish("zigbee2mqtt/living room/th", 0, false, `{"temperature":21.5,"humidity":40}`)
				pub.Publish("cw/local/camera/cam-9/heartbeat", 0, false, `{"online":true}`)
			}
		}
	}()
	var out bytes.Buffer
	err = Discover(ctx, cfg, 1500*time.Millisecond, &out, testLogger())
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"devices:", "source: zigbee2mqtt", `address: "living room/th"`, "kinds: [humidity, temperature]",
		"id: living-room-th", "source: nvr", `address: "cam-9"`, "kinds: [camera_online]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("discover output lacks %q:\n%s", want, got)
		}
	}
}
