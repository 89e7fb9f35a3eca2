package simulator

import "time"

// Clock is the wall clock the simulator runs on. Tests pass a fake whose
// After fires when the test says so.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits for d on the system clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// simClock maps wall time to simulated time:
// sim = start + (wall - wall0) × speed.
type simClock struct {
	wall0 time.Time
	start time.Time
	speed float64
}

func (c simClock) at(wall time.Time) time.Time {
	elapsed := wall.Sub(c.wall0)
	return c.start.Add(time.Duration(float64(elapsed) * c.speed))
}
