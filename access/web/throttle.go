package web

import (
	"log/slog"
	"sync"
	"time"
)

// LogThrottle logs the first event of a kind at once and then at most one
// per interval, saying how many went unlogged in between: hostile input is
// logged without letting a flood flood the log.
type LogThrottle struct {
	log      *slog.Logger
	every    time.Duration
	now      func() time.Time
	mu       sync.Mutex
	last     map[string]time.Time
	unlogged map[string]int
}

// NewLogThrottle logs to log at most once per every per kind.
func NewLogThrottle(log *slog.Logger, every time.Duration, now func() time.Time) *LogThrottle {
	return &LogThrottle{log: log, every: every, now: now, last: map[string]time.Time{}, unlogged: map[string]int{}}
}

// Warn logs msg at warning level unless a line of this kind was logged
// less than the interval ago.
func (t *LogThrottle) Warn(kind, msg string, args ...any) {
	now := t.now()
	t.mu.Lock()
	last, seen := t.last[kind]
	if seen && now.Sub(last) < t.every {
		t.unlogged[kind]++
		t.mu.Unlock()
		return
	}
	n := t.unlogged[kind]
	t.last[kind], t.unlogged[kind] = now, 0
	t.mu.Unlock()
	t.log.Warn(msg, append(args, "unlogged_since_last", n)...)
}
