package decode

import (
	"sync"
	"sync/atomic"
)

// Bounds of a stringCache. A facility has a few hundred devices, each with
// one or two topics; the bounds leave room for that many times ten while
// keeping the worst case (a publisher inventing topics) near 1 MiB.
const (
	DefaultTopicCacheSize = 4096 // entries
	maxCachedBytes        = 256  // longer strings are never cached
)

// stringCache hands out one stored copy of each string it has seen, so that
// a caller holding bytes (a topic in the MQTT reader's buffer) gets a string
// that outlives the buffer without allocating one per message. It is
// bounded: when full, an arbitrary entry (Go randomises map iteration)
// makes room and evictions counts it; devices that keep publishing are put
// back at their next message. It is safe for concurrent use.
type stringCache struct {
	mu        sync.Mutex
	m         map[string]string
	max       int
	evictions atomic.Uint64
}

func newStringCache(max int) *stringCache {
	return &stringCache{m: make(map[string]string), max: max}
}

// lookup returns the stored copy of b, if any. It does not allocate.
func (c *stringCache) lookup(b []byte) (string, bool) {
	c.mu.Lock()
	s, ok := c.m[string(b)] // the compiler does not allocate for this conversion
	c.mu.Unlock()
	return s, ok
}

// add stores s, unless it is too long to be worth keeping.
func (c *stringCache) add(s string) {
	if len(s) > maxCachedBytes || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[s]; ok {
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			c.evictions.Add(1)
			break
		}
	}
	c.m[s] = s
}

// intern returns the stored copy of b, storing one first if needed.
func (c *stringCache) intern(b []byte) string {
	if s, ok := c.lookup(b); ok {
		return s
	}
	s := string(b)
	c.add(s)
	return s
}

// len is the number of stored strings.
func (c *stringCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
