package netcut

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves lines back until Close.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// roundTrip sends a line through addr and reports whether it came back.
func roundTrip(conn net.Conn) bool {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == "ping\n"
}

// A cut drops the open connection and refuses new ones; mended, the path
// carries traffic again.
func TestCutAndMend(t *testing.T) {
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !roundTrip(conn) {
		t.Fatal("no echo through the path")
	}
	p.Cut()
	if roundTrip(conn) {
		t.Fatal("the connection survived the cut")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		ok := roundTrip(c)
		c.Close()
		if ok {
			t.Fatal("a new connection got through the cut path")
		}
	}
	p.Mend()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !roundTrip(c) {
		t.Fatal("no echo after the path was mended")
	}
}
