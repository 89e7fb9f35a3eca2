package obs

import (
	"context"
	"errors"
	"sync"
)

// Group runs a service's long-lived components (subscriber, spool, uplink,
// HTTP server) together: the first to return an error cancels the others,
// and Wait returns when all are done, in the manner of Prometheus's run.Group.
type Group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
	mu     sync.Mutex
	err    error
}

// NewGroup derives the group's context from parent.
func NewGroup(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is cancelled when any member fails or the parent is cancelled.
func (g *Group) Context() context.Context { return g.ctx }

// Go starts a member. A member must return when the context is cancelled.
func (g *Group) Go(name string, run func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := run(g.ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			g.mu.Lock()
			if g.err == nil {
				g.err = wrapName(name, err)
			}
			g.mu.Unlock()
		}
		g.cancel()
	}()
}

// Wait waits for every member and returns the first error.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stop cancels the members' context and waits for them: for a start-up
// that failed after some members began.
func (g *Group) Stop() {
	g.cancel()
	g.wg.Wait()
}

type namedError struct {
	name string
	err  error
}

func (e *namedError) Error() string { return e.name + ": " + e.err.Error() }
func (e *namedError) Unwrap() error { return e.err }

func wrapName(name string, err error) error { return &namedError{name, err} }
