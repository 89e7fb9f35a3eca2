// Package collector is the central ingest service: it takes batches from
// thousands of gateways through an MQTT shared subscription, checks each
// batch against the facility registry (the gateway must be registered to
// the facility, the region must be the facility's, every reading's device
// must be listed for it, and readings get their room from the registry,
// never from the gateway), writes InfluxDB in large blocking writes with
// its own retry, and acknowledges each batch to its gateway only after
// InfluxDB stored it, with the count of refused readings by reason.
// docs/wire.md is the contract it serves.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/registry/regmetrics"
)

// Options carry the collector's configuration and dependencies.
type Options struct {
	Config     Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer // served on /metrics; nil disables the HTTP server
	Sink       influxwrite.Sink    // nil: InfluxDB as configured
	Clock      func() time.Time
	// Registry of facilities; nil opens Config.Registry.Dir, and Run polls
	// it. A registry passed here is reloaded by its owner.
	Registry *registry.Registry
}

// Collector is one collector instance.
type Collector struct {
	o         Options
	log       *slog.Logger
	m         *metrics
	reg       *registry.Registry
	pollReg   bool // the registry is the collector's own: Run polls it
	in        chan message
	todo      chan *work
	free      chan *work
	ready     obs.Readiness
	wr        *writer
	http      *obs.Server
	closeOnce sync.Once
}

// New checks the options and builds a collector; Run starts it.
func New(o Options) (*Collector, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	c := &Collector{
		o:    o,
		log:  o.Logger.With("component", "collector"),
		m:    newMetrics(o.Registerer),
		reg:  o.Registry,
		in:   make(chan message, o.Config.Ingest.MaxInflight),
		todo: make(chan *work, 1),
		free: make(chan *work, 2),
	}
	// Two work items: one filling while the other is written.
	c.free <- &work{}
	c.free <- &work{}
	if c.reg == nil {
		reg, err := registry.OpenDir(context.Background(), o.Config.Registry.Dir,
			registry.Options{PollInterval: o.Config.Registry.PollInterval, Logger: c.log, Clock: o.Clock})
		if err != nil {
			return nil, fmt.Errorf("collector: registry: %w", err)
		}
		c.reg, c.pollReg = reg, true
	}
	if err := regmetrics.Register(o.Registerer, c.reg); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if o.Gatherer != nil {
		c.http = &obs.Server{Addr: o.Config.HTTP.Listen, Gatherer: o.Gatherer, Ready: &c.ready, Logger: c.log}
		if err := c.http.Listen(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Close releases what New acquired (the operational HTTP listener) when
// Run is not called or has returned. It is idempotent.
func (c *Collector) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.http != nil {
			err = c.http.Close()
		}
	})
	return err
}

// Registry is the facility registry the collector attributes readings by.
func (c *Collector) Registry() *registry.Registry { return c.reg }

// HTTPAddr is the bound operational address ("" when disabled).
func (c *Collector) HTTPAddr() string {
	if c.http == nil {
		return ""
	}
	return c.http.ListenAddr()
}

// Run consumes, writes and acknowledges until ctx ends. Batches received but
// not yet stored are not acknowledged: the broker or the gateway sends them
// again, so stopping at any point loses nothing.
func (c *Collector) Run(ctx context.Context) error {
	cfg := c.o.Config
	sink := c.o.Sink
	if sink == nil {
		is := influxwrite.NewInfluxSink(cfg.Influx)
		defer is.Close()
		sink = is
		if cfg.Influx.Version == 1 && cfg.Influx.CreateDatabase {
			if err := c.retry(ctx, "create database", func() error { return influxwrite.CreateDatabase(ctx, cfg.Influx) }); err != nil {
				return err
			}
		}
	}
	c.wr = &writer{sink: sink, cfg: cfg.Ingest, m: c.m, log: c.log, sleep: sleepCtx}
	c.wr.healthy.Store(true)

	handler := func(_ mqtt.Client, msg mqtt.Message) {
		// A full queue means the broker's inflight window is larger than
		// max_inflight: wait (the broker holds the rest) and count it, so
		// the mismatch is visible.
		mqttx.Hand(ctx, c.in, message{topic: msg.Topic(), payload: msg.Payload(), ack: msg.Ack}, c.m.inflightBlocked.Inc)
	}
	client, err := mqttx.New(mqttx.Options{
		Config:       cfg.MQTT,
		CleanSession: true,
		OrderMatters: true,
		Logger:       c.log,
		OnConnect: func(cl mqtt.Client) {
			for _, f := range []string{
				model.SharedSubscription(cfg.ShareGroup, model.SuffixBatch),
				model.SharedSubscription(cfg.ShareGroup, model.SuffixStatus),
			} {
				if err := mqttx.Subscribe(cl, f, 1, handler); err != nil {
					c.log.Error("subscribe failed", "filter", f, "err", err)
				}
			}
		},
	})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	c.ready.Set("mqtt", mqttx.Connected(client))
	c.ready.Set("influxdb", func() error {
		if !c.wr.healthy.Load() {
			return errors.New("writes failing")
		}
		return nil
	})
	if err := mqttx.Connect(ctx, client); err != nil {
		client.Disconnect(0)
		return fmt.Errorf("collector: connect %s: %w", cfg.MQTT.Broker, err)
	}
	defer client.Disconnect(250)

	g := obs.NewGroup(ctx)
	if c.pollReg {
		g.Go("registry", c.reg.Run)
	}
	g.Go("pipeline", c.pipeline)
	g.Go("writer", func(ctx context.Context) error { return c.writeLoop(ctx, client) })
	if c.http != nil {
		g.Go("http", c.http.Run)
	}
	c.log.Info("collector running", "broker", cfg.MQTT.Broker, "influx", cfg.Influx.URL, "facilities", c.reg.Snapshot().Len())
	return g.Wait()
}

// pipeline decodes and renders messages into work items and hands a full
// (or old enough) item to the writer.
func (c *Collector) pipeline(ctx context.Context) error {
	in := &ingester{cfg: c.o.Config.Ingest, m: c.m, now: c.o.Clock, log: c.log, reg: c.reg, regions: map[model.Region]*regionTags{}}
	flushEvery := c.o.Config.Ingest.FlushInterval
	timer := time.NewTimer(flushEvery)
	timer.Stop()
	var w *work
	for {
		if w == nil {
			select {
			case w = <-c.free:
				w.reset()
			case <-ctx.Done():
				return nil
			}
		}
		select {
		case msg := <-c.in:
			empty := len(w.pending) == 0
			in.add(w, msg)
			c.m.outstanding.Set(float64(len(c.in) + len(w.pending)))
			if w.lines() >= c.o.Config.Ingest.MaxLines {
				timer.Stop()
				if !c.hand(ctx, w) {
					return nil
				}
				w = nil
			} else if empty && len(w.pending) > 0 {
				timer.Reset(flushEvery)
			}
		case <-timer.C:
			if len(w.pending) > 0 {
				if !c.hand(ctx, w) {
					return nil
				}
				w = nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func (c *Collector) hand(ctx context.Context, w *work) bool {
	select {
	case c.todo <- w:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeLoop stores each work item and then acknowledges its messages.
func (c *Collector) writeLoop(ctx context.Context, client mqtt.Client) error {
	for {
		var w *work
		select {
		case w = <-c.todo:
		case <-ctx.Done():
			return nil
		}
		refused, err := c.wr.store(ctx, w)
		if err != nil {
			return nil // cancelled: nothing is acknowledged, everything is resent
		}
		recordLag(c.m, w, c.o.Clock())
		c.settle(client, w, refused)
		c.free <- w
	}
}

// recordLag observes the lag of every reading of w, stored at now.
func recordLag(m *metrics, w *work, now time.Time) { m.lag.observe(w.lag, now) }

// settle acknowledges every message of a stored work item: first the
// gateway (cw/v1/<facility>/<gateway>/ack), then the broker (PUBACK).
func (c *Collector) settle(client mqtt.Client, w *work, refused []int) {
	ri := 0
	for i := range w.pending {
		p := &w.pending[i]
		if p.isBatch {
			stored := p.to - p.from
			for ri < len(refused) && refused[ri] < p.to {
				if refused[ri] >= p.from {
					p.ack.Reject(model.RejectDatabase, 1)
					stored--
					c.m.rejected.WithLabelValues(model.RejectDatabase).Inc()
				}
				ri++
			}
			if p.ack.Status == model.AckStored {
				c.m.batches.WithLabelValues("stored").Inc()
				c.m.readings.Add(float64(stored))
			}
			tok := client.Publish(model.Topic(p.facility, p.gateway, model.SuffixAck), 1, false, model.EncodeAck(p.ack))
			if tok.Error() != nil {
				c.m.acksFailed.Inc()
			}
		}
		p.msg.ack()
	}
	c.m.outstanding.Set(float64(len(c.in)))
}

// retry runs f until it succeeds or ctx ends, with capped back-off.
func (c *Collector) retry(ctx context.Context, what string, f func() error) error {
	backoff := c.o.Config.Ingest.RetryInitial
	for {
		err := f()
		if err == nil {
			return nil
		}
		c.log.Warn(what+" failed; retrying", "err", err, "in", backoff)
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
		backoff = min(backoff*2, c.o.Config.Ingest.RetryMax)
	}
}
