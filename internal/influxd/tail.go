package influxd

import (
	"io"
	"sync"
)

// tailSize is how much of influxd's output is kept for error messages: enough
// for the last few log lines that explain why it died.
const tailSize = 8 << 10

// tail keeps the last tailSize bytes written to it and forwards everything
// to an optional writer. It is shared by the process's stdout and stderr
// copiers, hence the lock.
type tail struct {
	mu  sync.Mutex
	buf []byte
	fwd io.Writer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	if t.fwd != nil {
		// A failing log writer must not stall or kill the server.
		_, _ = t.fwd.Write(p)
	}
	return len(p), nil
}

// String returns the kept output.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// reset forgets the output of a previous run.
func (t *tail) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = t.buf[:0]
}
