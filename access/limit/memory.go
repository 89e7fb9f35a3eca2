package limit

import (
	"context"
	"sync"
)

// Memory is a Backend in this process's memory. Its size is bounded:
// beyond maxMemoryKeys it forgets a counting key first, a locked one only
// when every key is locked.
type Memory struct {
	mu sync.Mutex
	m  map[string]State
}

// maxMemoryKeys bounds Memory against an attacker cycling through sources.
const maxMemoryKeys = 100_000

// NewMemory returns an empty Memory backend.
func NewMemory() *Memory { return &Memory{m: map[string]State{}} }

// Update implements Backend.
func (m *Memory) Update(_ context.Context, key string, fn func(State) State) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := fn(m.m[key])
	if st == (State{}) {
		delete(m.m, key)
		return st, nil
	}
	if _, ok := m.m[key]; !ok && len(m.m) >= maxMemoryKeys {
		m.evictOne(key)
	}
	m.m[key] = st
	return st, nil
}

// evictOne forgets a key that is not locked (any, in map order), so that a
// flood of new keys cannot unlock a locked one.
func (m *Memory) evictOne(except string) {
	for k, st := range m.m {
		if k != except && st.LockedUntil.IsZero() {
			delete(m.m, k)
			return
		}
	}
	for k := range m.m { // all locked: forget one rather than grow without bound
		if k != except {
			delete(m.m, k)
			return
		}
	}
}

// Get implements Backend.
func (m *Memory) Get(_ context.Context, key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[key], nil
}

// Delete implements Backend.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}
