package embedbroker

import (
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// acker puts intercepted packets back through mochi's publish path once the
// interceptor acknowledged them, so that mochi sends the PUBACK and delivers
// them. Each client has a queue drained by a goroutine of its own, started
// when the queue fills and ending when it is empty: mochi writes the PUBACK
// to the client's connection synchronously, and a client that stops reading
// must hold up only its own acknowledgements. A client's packets are
// acknowledged in the order they were pushed, which is the order the
// interceptor acknowledges them in (the gateway's spool commits in order).
type acker struct {
	srv         *mqtt.Server
	undelivered prometheus.Counter
	log         *slog.Logger

	mu      sync.Mutex
	queues  map[*mqtt.Client][]packets.Packet
	pass    map[*byte]*mqtt.Client // packets being put back, by their payload
	stopped bool
	wg      sync.WaitGroup
}

func newAcker(srv *mqtt.Server, undelivered prometheus.Counter, log *slog.Logger) *acker {
	return &acker{srv: srv, undelivered: undelivered, log: log,
		queues: map[*mqtt.Client][]packets.Packet{}, pass: map[*byte]*mqtt.Client{}}
}

// push queues pk of cl for its acknowledgement.
func (a *acker) push(cl *mqtt.Client, pk packets.Packet) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		// The broker is closing: the client sends it again to the next
		// one. Counted like any acknowledgement that did not reach it.
		a.undelivered.Inc()
		return
	}
	q, running := a.queues[cl]
	a.queues[cl] = append(q, pk)
	if !running {
		a.wg.Add(1)
		go a.drain(cl)
	}
}

// drain acknowledges cl's queue until it is empty.
func (a *acker) drain(cl *mqtt.Client) {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		q := a.queues[cl]
		if len(q) == 0 || a.stopped {
			// What is left when the broker stops is not acknowledged:
			// the client sends it again, and the count says so.
			a.undelivered.Add(float64(len(q)))
			delete(a.queues, cl)
			a.mu.Unlock()
			return
		}
		a.queues[cl] = q[:0:0]
		a.mu.Unlock()
		for _, pk := range q {
			a.inject(cl, pk)
		}
	}
}

// inject puts pk back through mochi's publish path for cl: PUBACK (or
// PUBREC), retained message, delivery to subscribers. The hook recognises
// it by its payload and lets it pass.
func (a *acker) inject(cl *mqtt.Client, pk packets.Packet) {
	// The topic alias was resolved when the packet was first read;
	// resolving it again would write the client's alias table from this
	// goroutine while the client's reader may use it.
	pk.Properties.TopicAliasFlag = false
	pk.Properties.TopicAlias = 0
	key := &pk.Payload[0]
	a.mu.Lock()
	a.pass[key] = cl
	a.mu.Unlock()
	err := a.srv.InjectPacket(cl, pk)
	a.mu.Lock()
	delete(a.pass, key)
	a.mu.Unlock()
	if err != nil {
		a.undelivered.Inc()
		a.log.Debug("acknowledgement not delivered", "client", cl.ID, "packet_id", pk.PacketID, "err", err)
	}
}

// passing reports whether pk of cl is one inject is putting back.
func (a *acker) passing(cl *mqtt.Client, pk packets.Packet) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pass[&pk.Payload[0]] == cl
}

// stop makes push drop what comes and the drains end after their batch.
func (a *acker) stop() {
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
}

// wait waits for the drains to end.
func (a *acker) wait() { a.wg.Wait() }
