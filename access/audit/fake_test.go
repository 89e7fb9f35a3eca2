package audit

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// memSink is an in-memory Sink and Source whose database can be "down".
type memSink struct {
	mu      sync.Mutex
	down    bool
	recs    map[string][]Record
	anchors map[string][]Anchor
	quar    []Quarantine
}

var errDown = errors.New("connection refused")

func newMemSink() *memSink {
	return &memSink{recs: map[string][]Record{}, anchors: map[string][]Anchor{}}
}

func (m *memSink) setDown(d bool) { m.mu.Lock(); m.down = d; m.mu.Unlock() }

func (m *memSink) AppendAudit(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errDown
	}
	for _, r := range recs {
		chain := m.recs[r.Chain]
		i := slices.IndexFunc(chain, func(x Record) bool { return x.Seq == r.Seq })
		if i >= 0 {
			if chain[i].Hash != r.Hash {
				return ErrChainConflict
			}
			continue
		}
		m.recs[r.Chain] = append(chain, r)
	}
	return nil
}

func (m *memSink) AuditHead(_ context.Context, chain string) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return Record{}, false, errDown
	}
	c := m.recs[chain]
	if len(c) == 0 {
		return Record{}, false, nil
	}
	return c[len(c)-1], true, nil
}

func (m *memSink) InsertAnchor(_ context.Context, a Anchor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errDown
	}
	m.anchors[a.Chain] = append(m.anchors[a.Chain], a)
	return nil
}

func (m *memSink) AuditChains(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for c := range m.recs {
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}

func (m *memSink) ScanAudit(_ context.Context, chain string, fn func(Record) error) error {
	m.mu.Lock()
	c := slices.Clone(m.recs[chain])
	m.mu.Unlock()
	slices.SortFunc(c, func(a, b Record) int { return int(a.Seq - b.Seq) })
	for _, r := range c {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSink) Anchors(_ context.Context, chain string) ([]Anchor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.anchors[chain]), nil
}

func (m *memSink) Quarantined(context.Context) ([]Quarantine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.quar), nil
}

func (m *memSink) Quarantine(_ context.Context, q Quarantine) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quar = append(m.quar, q)
	return nil
}

func (m *memSink) chain(c string) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs[c])
}
