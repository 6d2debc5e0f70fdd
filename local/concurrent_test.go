package local

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// versioned returns the record of version v of key: its data names both,
// so a reader can tell a torn or misplaced entry.
func versioned(key string, v uint64) Entry {
	data := binary.BigEndian.AppendUint64(nil, v)
	return Entry{Data: append(data, key...), Version: v, ExpiresAt: t0.Add(time.Hour)}
}

// checkEntry fails unless e is exactly what versioned(key, e.Version) made.
func checkEntry(key string, e Entry) error {
	if len(e.Data) < 8 || binary.BigEndian.Uint64(e.Data) != e.Version || string(e.Data[8:]) != key {
		return fmt.Errorf("Get(%q) returned v%d with data %q", key, e.Version, e.Data)
	}
	return nil
}

// TestConcurrentMonotonicReads hammers a few keys with writers that install
// rising versions, stale loaders that install old ones, readers, and churn
// on other keys that forces table rebuilds and LRU promotions. Nothing
// removes or evicts the watched keys, so no reader may ever see a version
// go back, and every entry must match its version. Run it with -race.
func TestConcurrentMonotonicReads(t *testing.T) {
	const (
		watched = 16
		writes  = 300 // versions per watched key
		churn   = 64  // other keys
		readers = 4
	)
	c, clk := newTestCache(t, Options{Capacity: 1024, Shards: 4, TTL: ttl})
	keys := make([]string, watched)
	latest := make([]atomic.Uint64, watched)
	for i := range keys {
		keys[i] = fmt.Sprintf("watched-%d", i)
		mustInstall(t, c, keys[i], versioned(keys[i], 1))
		latest[i].Store(1)
	}

	var writers, others sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, readers+4)
	writers.Go(func() { // the writer: every key, rising versions
		for v := uint64(2); v <= writes; v++ {
			for i, k := range keys {
				if !c.Install(k, versioned(k, v)) {
					errs <- fmt.Errorf("Install(%q, v%d) over v%d = false", k, v, v-1)
					return
				}
				latest[i].Store(v)
			}
		}
	})
	writers.Go(func() { // a slow loader: old versions, mostly refused
		r := rand.New(rand.NewPCG(1, 2))
		for range writes * watched {
			i := r.IntN(watched)
			c.Install(keys[i], versioned(keys[i], r.Uint64N(latest[i].Load())+1))
			c.InstallNotFound(keys[i], 0) // never hides a fresh record
		}
	})
	writers.Go(func() { // churn: installs, removals, invalidations
		r := rand.New(rand.NewPCG(3, 4))
		for n := range writes * watched {
			k := fmt.Sprintf("churn-%d", r.IntN(churn))
			switch n % 4 {
			case 0, 1:
				c.Install(k, versioned(k, uint64(n+1)))
			case 2:
				c.Remove(k)
			case 3:
				c.RemoveIfOlder(k, uint64(n))
			}
		}
	})
	others.Go(func() { // time moves, so hits promote; nothing expires
		for range 2000 {
			select {
			case <-done:
				return
			default:
				clk.Advance(time.Millisecond)
				if n := c.Len(); n > 1024 {
					errs <- fmt.Errorf("Len = %d above Capacity", n)
				}
				c.Stats()
			}
		}
	})
	for range readers {
		others.Go(func() {
			seen := make([]uint64, watched)
			for {
				select {
				case <-done:
					return
				default:
				}
				for i, k := range keys {
					e, r := c.Get(k)
					if r != Hit {
						errs <- fmt.Errorf("Get(%q) = %v; nothing removes it", k, r)
						return
					}
					if err := checkEntry(k, e); err != nil {
						errs <- err
						return
					}
					if e.Version < seen[i] {
						errs <- fmt.Errorf("Get(%q) went back from v%d to v%d", k, seen[i], e.Version)
						return
					}
					seen[i] = e.Version
				}
			}
		})
	}
	writers.Wait()
	close(done)
	others.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, k := range keys {
		wantGet(t, c, k, Hit, writes)
	}
}

// TestConcurrentEverything runs every method at once on a small cache with
// a real clock, including Purge, so that evictions, expiries and rebuilds
// race with reads. Entries must stay consistent and within capacity.
func TestConcurrentEverything(t *testing.T) {
	const capacity, workers, ops = 64, 6, 3000
	c, err := New(Options{Capacity: capacity, Shards: 4, TTL: 20 * time.Millisecond, NegativeTTL: 5 * time.Millisecond, Admission: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for n := range ops {
				k := fmt.Sprintf("k%d", r.IntN(3*capacity))
				switch op := r.IntN(100); {
				case op < 60:
					if e, res := c.Get(k); res == Hit {
						if err := checkEntry(k, e); err != nil {
							errs <- err
							return
						}
					}
				case op < 75:
					e := versioned(k, uint64(n+1))
					e.ExpiresAt = time.Now().Add(time.Hour)
					c.Install(k, e)
				case op < 80:
					e := versioned(k, uint64(n+1))
					e.ExpiresAt = time.Now().Add(time.Hour)
					c.InstallLoaded(k, e)
				case op < 88:
					c.InstallNotFound(k, uint64(r.IntN(n+1)))
				case op < 94:
					c.RemoveIfOlder(k, uint64(r.IntN(n+1)))
				case op < 98:
					c.Remove(k)
				case op < 99:
					if l := c.Len(); l > capacity {
						errs <- fmt.Errorf("Len = %d above Capacity %d", l, capacity)
						return
					}
				default:
					c.Purge()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := c.Stats()
	if st.Hits+st.Misses+st.NegativeHits == 0 || st.Entries > capacity {
		t.Fatalf("Stats = %+v: no reads counted or entries above capacity", st)
	}
	for i := range c.shards {
		if err := c.shards[i].check(); err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
}

// check verifies a shard's invariants: the lists are well linked and their
// lengths right, the table holds exactly the listed items, and bytes is
// the sum of their sizes.
func (s *shard) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bytes int64
	listed := 0
	for _, l := range []*list{&s.records, &s.markers} {
		n := 0
		for it := l.root.next; it != &l.root; it = it.next {
			if it.next.prev != it {
				return fmt.Errorf("broken link after %q", it.key())
			}
			if got := s.tab.Load().find(uint64(it.hash), it.key()); got != it {
				return fmt.Errorf("listed item %q not in the table", it.key())
			}
			if it.negative != (l == &s.markers) {
				return fmt.Errorf("item %q in the wrong list", it.key())
			}
			bytes += it.size()
			n++
		}
		if n != l.len {
			return fmt.Errorf("list holds %d items, its len says %d", n, l.len)
		}
		listed += n
	}
	if t := s.tab.Load(); t.live != listed {
		return fmt.Errorf("table holds %d items, lists %d", t.live, listed)
	}
	if bytes != s.bytes {
		return fmt.Errorf("bytes = %d, items add up to %d", s.bytes, bytes)
	}
	return nil
}
