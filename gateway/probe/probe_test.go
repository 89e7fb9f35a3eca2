package probe

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a TCP server on 127.0.0.1 that treats each connection with
// handle, standing in for a camera.
func server(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func answer(status string) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write([]byte(status + "\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"))
	}
}

// hang reads the request and never answers, until the prober gives up.
func hang(c net.Conn) {
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func closeAtOnce(net.Conn) {}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newProber(t *testing.T, targets []Target, emit func(decode.Observation)) *Prober {
	t.Helper()
	if emit == nil {
		emit = func(decode.Observation) {}
	}
	p, err := New(Options{
		Targets:    targets,
		Interval:   10 * time.Millisecond,
		Timeout:    300 * time.Millisecond,
		Registerer: prometheus.NewRegistry(),
		Emit:       emit,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name      string
		addr      string
		reachable bool
		notRTSP   bool
	}{
		{"camera 200", server(t, answer("RTSP/1.0 200 OK")), true, false},
		{"camera 401 needs auth", server(t, answer("RTSP/1.0 401 Unauthorized")), true, false},
		{"http server", server(t, answer("HTTP/1.1 400 Bad Request")), false, true},
		{"hangs", server(t, hang), false, false},
		{"closes", server(t, closeAtOnce), false, false},
		{"nothing listens", closedPort(t), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, nil, nil)
			lat, err := p.Probe(context.Background(), Target{Address: "cam", HostPort: tt.addr})
			if (err == nil) != tt.reachable {
				t.Fatalf("err %v, want reachable=%v", err, tt.reachable)
			}
			if errors.Is(err, ErrNotRTSP) != tt.notRTSP {
				t.Errorf("err %v, want ErrNotRTSP=%v", err, tt.notRTSP)
			}
			if tt.reachable && lat <= 0 {
				t.Errorf("latency %v", lat)
			}
		})
	}
}

func TestRun(t *testing.T) {
	up := server(t, answer("RTSP/1.0 401 Unauthorized"))
	hung := server(t, hang)
	targets := []Target{{"cam-up", up}, {"cam-hung", hung}, {"cam-gone", closedPort(t)}}
	obs := make(chan decode.Observation, 64)
	p := newProber(t, targets, func(o decode.Observation) {
		select {
		case obs <- o:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	// Collect until every camera has its online state twice: two rounds.
	online := map[string][]float64{}
	latency := map[string]int{}
	for len(online["cam-up"]) < 2 || len(online["cam-hung"]) < 2 || len(online["cam-gone"]) < 2 {
		o := <-obs
		switch o.Kind {
		case model.KindCameraOnline:
			online[o.Address] = append(online[o.Address], o.Value)
		case model.KindCameraLatency:
			latency[o.Address]++
			if !o.Kind.InRange(o.Value) {
				t.Errorf("latency %v out of range", o.Value)
			}
		}
		if o.Source != Family || o.Time.IsZero() {
			t.Errorf("observation %+v", o)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if online["cam-up"][0] != 1 || online["cam-hung"][0] != 0 || online["cam-gone"][0] != 0 {
		t.Errorf("online %v", online)
	}
	if latency["cam-up"] < 1 || latency["cam-hung"] != 0 || latency["cam-gone"] != 0 {
		t.Errorf("latency counts %v", latency)
	}
}

func TestNewErrors(t *testing.T) {
	emit := func(decode.Observation) {}
	for _, opts := range []Options{
		{},
		{Emit: emit, Targets: []Target{{Address: "", HostPort: "1.2.3.4:554"}}},
		{Emit: emit, Targets: []Target{{Address: "c", HostPort: "1.2.3.4"}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
}
