package decode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A failure that repeats for every message (a full disk) is one line a
// minute per key, at its level, with the count of the lines held back.
func TestLimitedLoggerError(t *testing.T) {
	var buf bytes.Buffer
	l := NewLimitedLogger(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	t0 := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.Error(t0.Add(time.Duration(i)*10*time.Millisecond), "local", "spool append failed")
	}
	l.Error(t0.Add(time.Minute), "local", "spool append failed")
	l.Warn(t0.Add(time.Minute), "other", "something else")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[1], "suppressed=999") || !strings.Contains(lines[2], "level=WARN") {
		t.Errorf("lines:\n%s", buf.String())
	}
}
