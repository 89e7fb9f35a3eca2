package mqttx

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func TestBufferedConnFlushesAndReads(t *testing.T) {
	a, b := net.Pipe()
	bc := newBufferedConn(a)
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 6)
		io.ReadFull(b, buf)
		got <- buf
	}()
	bc.Write([]byte("abc"))
	bc.Write([]byte("def")) // gathered with the first, flushed after flushDelay
	select {
	case p := <-got:
		if !bytes.Equal(p, []byte("abcdef")) {
			t.Fatalf("peer read %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("buffered writes never flushed")
	}
	go b.Write([]byte("xyz"))
	p := make([]byte, 3)
	if _, err := io.ReadFull(bc, p); err != nil || string(p) != "xyz" {
		t.Fatalf("read %q %v", p, err)
	}
	bc.Close()
	if _, err := bc.Write([]byte("late")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// TestBufferedConnCloseWhileFlushBlocked: a peer that never reads blocks a
// flush; Close must still return (and unblock it).
func TestBufferedConnCloseWhileFlushBlocked(t *testing.T) {
	a, _ := net.Pipe() // nobody reads the other end
	bc := newBufferedConn(a)
	bc.Write([]byte("stuck"))
	// Wait until the flush holds the lock, blocked on the pipe (a sleep
	// only made that likely, and a Close before the flush proved nothing).
	for deadline := time.Now().Add(10 * time.Second); bc.mu.TryLock(); time.Sleep(time.Millisecond) {
		bc.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the flush never started")
		}
	}
	done := make(chan struct{})
	go func() { bc.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked behind a stuck flush")
	}
}
