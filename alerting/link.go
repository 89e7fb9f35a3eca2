package alerting

import (
	"sync"
	"time"
)

// link is the state of the service's own connection to the central
// broker, written by paho's callbacks and read by the engine's goroutine:
// a broker that stops hands out every gateway's last will, so the engine
// must know when the centre itself is cut off (rules.Engine.CentreLost).
type link struct {
	mu     sync.Mutex
	up     bool
	epoch  uint64 // connections made so far
	lostAt time.Time
	upAt   time.Time
	// wake tells the engine's goroutine to look; a pending wake-up is
	// enough, so a full channel loses nothing.
	wake chan struct{}
}

func newLink() link { return link{wake: make(chan struct{}, 1)} }

func (l *link) connected(at time.Time) {
	l.mu.Lock()
	l.up, l.upAt = true, at
	l.epoch++
	l.mu.Unlock()
	l.signal()
}

func (l *link) lost(at time.Time) {
	l.mu.Lock()
	if l.up {
		l.up, l.lostAt = false, at
	}
	l.mu.Unlock()
	l.signal()
}

func (l *link) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// linkSeen is what the engine has been told of the link.
type linkSeen struct {
	epoch uint64
	deaf  bool // told CentreLost and not CentreBack since
}

// syncLink tells the engine what changed since it last looked: the link
// lost (CentreLost), back (CentreBack), or both when a reconnect fell
// between two looks. Before the first connection the engine is told
// nothing: the service was not running, which is no platform incident,
// and the first CentreBack gives every gateway its grace.
func (s *Service) syncLink() {
	s.link.mu.Lock()
	up, epoch, lostAt, upAt := s.link.up, s.link.epoch, s.link.lostAt, s.link.upAt
	s.link.mu.Unlock()
	if epoch == 0 || (epoch == s.seen.epoch && up != s.seen.deaf) {
		return
	}
	if !s.seen.deaf && s.seen.epoch != 0 && (!up || epoch != s.seen.epoch) {
		s.log.Warn("cut off from the central broker: gateways' losses are the platform's until it is back", "since", lostAt)
		s.apply(s.engine.CentreLost(lostAt), time.Time{})
		s.seen.deaf = true
	}
	if up && (s.seen.deaf || epoch != s.seen.epoch) {
		if s.seen.epoch != 0 {
			s.log.Info("central broker back", "down", upAt.Sub(lostAt).Round(time.Millisecond))
		}
		s.apply(s.engine.CentreBack(upAt), time.Time{})
		s.seen.deaf = false
	}
	s.seen.epoch = epoch
}
