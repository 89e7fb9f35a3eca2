package decode

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LimitedLogger logs repeated errors at most once per key and interval.
// A device that publishes garbage every second would otherwise fill the SD
// card with identical lines; the counters carry the full numbers, the log
// carries an example and how many were suppressed since the last line.
// Time comes from the caller (the message's arrival time), so tests need
// no clock. It is safe for concurrent use.
type LimitedLogger struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	keys map[string]*limitState
}

type limitState struct {
	last       time.Time
	suppressed int
}

// maxLimitedKeys bounds the logger's memory: keys are family and reason,
// a small set, but a bug must not turn them into a leak.
const maxLimitedKeys = 1024

// NewLimitedLogger returns a logger that writes one line per key per every.
func NewLimitedLogger(log *slog.Logger, every time.Duration) *LimitedLogger {
	return &LimitedLogger{log: log, every: every, keys: map[string]*limitState{}}
}

// Warn logs msg at warning level unless a line with the same key was
// written less than the interval before now. It reports whether it logged.
func (l *LimitedLogger) Warn(now time.Time, key, msg string, args ...any) bool {
	return l.limited(slog.LevelWarn, now, key, msg, args)
}

// Error is Warn at error level.
func (l *LimitedLogger) Error(now time.Time, key, msg string, args ...any) bool {
	return l.limited(slog.LevelError, now, key, msg, args)
}

func (l *LimitedLogger) limited(level slog.Level, now time.Time, key, msg string, args []any) bool {
	l.mu.Lock()
	st, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= maxLimitedKeys {
			clear(l.keys)
		}
		st = &limitState{}
		l.keys[key] = st
	} else if now.Sub(st.last) < l.every {
		st.suppressed++
		l.mu.Unlock()
		return false
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Log(context.Background(), level, msg, args...)
	return true
}
