package remote

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Generation implements Owners.
func (m *Memory) Generation(ctx context.Context, owner string) (uint64, error) {
	if err := ValidOwner(owner); err != nil {
		return 0, err
	}
	if err := m.wait(ctx, false); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gens[owner].gen, nil
}

// Revoke implements Owners. Like a DynamoDB write, it carries a write id,
// so that a retry after a lost response finds its own raise and does not
// raise again.
func (m *Memory) Revoke(ctx context.Context, owner string) (uint64, error) {
	if err := ValidOwner(owner); err != nil {
		return 0, err
	}
	id := newWriteID()
	for attempt := 0; ; attempt++ {
		if err := m.wait(ctx, true); err != nil {
			if attempt > 0 {
				return 0, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
			}
			return 0, notApplied(err)
		}
		m.mu.Lock()
		g := m.gens[owner]
		if g.wid != id {
			g = memGeneration{gen: g.gen + 1, wid: id}
			m.gens[owner] = g
		}
		m.mu.Unlock()
		if m.loseNext.CompareAndSwap(true, false) {
			if attempt < m.maxRetries {
				continue
			}
			return 0, fmt.Errorf("%w: response lost", ErrUnknownOutcome)
		}
		return g.gen, nil
	}
}

// List implements Owners. Memory's index is always current.
func (m *Memory) List(ctx context.Context, owner string) ([]Record, error) {
	if err := ValidOwner(owner); err != nil {
		return nil, err
	}
	if err := m.wait(ctx, false); err != nil {
		return nil, err
	}
	now := m.now()
	m.mu.Lock()
	var recs []Record
	for key, it := range m.items {
		if it.corrupt || it.owned.owner != owner || !isLive(it.exp, now) {
			continue
		}
		rec, _ := it.record(key)
		recs = append(recs, rec)
	}
	m.mu.Unlock()
	sortOwned(recs)
	return recs, nil
}

// sortOwned orders records as List returns them: by CreatedAt, then Key.
func sortOwned(recs []Record) {
	slices.SortFunc(recs, func(a, b Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
}
