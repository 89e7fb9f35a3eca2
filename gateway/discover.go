package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

// Discover listens to the local broker for a while and writes what it saw
// as a devices: section for the facility file. It uses a clean session of
// its own, so the running gateway's queued messages are not touched.
func Discover(ctx context.Context, cfg Config, listen time.Duration, w io.Writer, log *slog.Logger) error {
	set, err := decode.Build(cfg.Sources, decode.Options{Logger: log, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	type seen struct {
		kinds map[model.Kind]bool
		first time.Time
		last  time.Time
		count int
	}
	var mu sync.Mutex
	found := map[[2]string]*seen{}
	handler := func(_ mqtt.Client, msg mqtt.Message) {
		now := time.Now()
		obsv, _ := set.Decode(msg.Topic(), msg.Payload(), now, nil)
		mu.Lock()
		defer mu.Unlock()
		for _, o := range obsv {
			k := [2]string{o.Source, o.Address}
			s := found[k]
			if s == nil {
				s = &seen{kinds: map[model.Kind]bool{}, first: now}
				found[k] = s
			}
			s.kinds[o.Kind] = true
			s.last = now
			s.count++
		}
	}
	lc := cfg.Local.MQTT
	if cfg.Local.Embedded.Enabled {
		// The gateway's own broker: it delivers what it stored to other
		// subscribers too, so a running gateway can be listened to.
		lc.Broker = "tcp://" + cfg.Local.Embedded.Listen
	}
	lc.ClientID += "-discover"
	c, err := mqttx.New(mqttx.Options{Config: lc, CleanSession: true, AutoAck: true, OrderMatters: true, Default: handler, Logger: log,
		OnConnect: func(c mqtt.Client) {
			for _, f := range set.Subscriptions() {
				if err := mqttx.Subscribe(c, f, 0, handler); err != nil {
					log.Error("subscribe failed", "filter", f, "err", err)
				}
			}
		}})
	if err != nil {
		return err
	}
	if err := mqttx.Connect(ctx, c); err != nil {
		return fmt.Errorf("connect %s: %w", lc.Broker, err)
	}
	fmt.Fprintf(w, "# devices seen on %s during %s; give each a room and check its id\n", lc.Broker, listen)
	select {
	case <-ctx.Done():
	case <-time.After(listen):
	}
	c.Disconnect(250)
	mu.Lock()
	defer mu.Unlock()
	keys := make([][2]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	fmt.Fprintln(w, "devices:")
	for _, k := range keys {
		s := found[k]
		var kinds []string
		for kd := range s.kinds {
			kinds = append(kinds, kd.String())
		}
		sort.Strings(kinds)
		interval := time.Minute
		if s.count > 1 {
			interval = s.last.Sub(s.first) / time.Duration(s.count-1) * time.Duration(len(s.kinds))
			interval = max(interval.Round(time.Second), time.Second)
		}
		fmt.Fprintf(w, "  - id: %s\n    room: \"\"\n    source: %s\n    address: %q\n    kinds: [%s]\n    interval: %s\n",
			suggestID(k[1]), k[0], k[1], strings.Join(kinds, ", "), interval)
	}
	return nil
}

// suggestID turns a source address into a valid device ID.
func suggestID(addr string) string {
	b := make([]byte, 0, len(addr))
	for i := 0; i < len(addr) && len(b) < model.MaxIDLen; i++ {
		c := addr[i]
		if model.ValidateID("x", string(c)) == nil {
			b = append(b, c)
		} else {
			b = append(b, '-')
		}
	}
	if len(b) == 0 {
		return "device"
	}
	return string(b)
}
