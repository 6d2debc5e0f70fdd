package local

// The write side of the cache. Every method here takes one shard lock and
// reads the cache clock once. A record or marker whose freshness has run
// out counts as absent for every decision below: it only waits to be
// removed.

// Install caches e under key if it is newer than what the cache holds, and
// reports whether it did. It installs when
//
//   - nothing fresh is cached under key;
//   - a fresh record with a lower Version is cached;
//   - a fresh record with the same Version but an earlier ExpiresAt is
//     cached (a touch that extends the session);
//   - a fresh not-found marker whose floor is below e.Version is cached.
//
// It never installs an entry that is already expired (ExpiresAt at or
// before now, the zero time included), one whose key is longer than 65,535
// bytes or whose Data is 4 GiB or more, or one larger than its shard's
// share of MaxBytes; in that last case an older record cached under key is
// removed, since it is known to be stale. A slow load can therefore call
// Install with what it read without overwriting a newer write.
// The cache keeps e.Data without copying it: the caller must not modify it
// afterwards. Get returns e.ExpiresAt in UTC, to the nanosecond.
func (c *Cache) Install(key string, e Entry) bool {
	return c.install(key, e, false)
}

// InstallLoaded is Install for a record the caller read from the source
// of truth after a miss. With Options.Admission, it also refuses to cache
// a record under a key that is not cached yet when that would evict a
// fresh record whose key has been requested at least as often (the
// TinyLFU rule), and counts the refusal in Stats.Rejections. Without
// Admission it is Install.
func (c *Cache) InstallLoaded(key string, e Entry) bool {
	return c.install(key, e, c.admit != nil)
}

// install is Install, with the admission check when admit is set.
func (c *Cache) install(key string, e Entry, admit bool) bool {
	now := c.clock.read()
	fresh := freshUntil(now, c.ttl, unixNanos(e.ExpiresAt), c.slack)
	if fresh <= now {
		return false
	}
	s, h := c.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.peek(h, key)
	if old != nil && now < old.fresh && !supersedes(e, old) {
		return false
	}
	size := entrySize(len(key), len(e.Data))
	if len(key) > maxKey || len(e.Data) > maxData || !s.fits(size) {
		if old != nil {
			s.drop(old, now)
		}
		return false
	}
	it := newItem(key, h, fresh)
	it.setEntry(e)
	if admit && old == nil {
		if v := s.displaced(now, it); v != nil && c.admit.estimate(it.hash) <= c.admit.estimate(v.hash) {
			s.rejections.Add(1)
			return false
		}
	}
	s.put(old, it, now)
	return true
}

// supersedes reports whether e replaces old, a fresh record or marker.
func supersedes(e Entry, old *item) bool {
	switch {
	case old.negative:
		return e.Version > old.version
	case e.Version != old.version:
		return e.Version > old.version
	default:
		return unixNanos(e.ExpiresAt) > old.expiresNanos()
	}
}

// InstallNotFound caches a not-found marker under key for NegativeTTL, so
// that Get returns NegativeHit instead of Miss, and reports whether it did.
// floor is the highest version known not to exist any more (0 when the
// caller knows none): Install refuses versions <= floor while the marker is
// fresh, so a load that started before a delete cannot bring the deleted
// record back.
//
// It never replaces a fresh record whose Version is above floor: a load
// that found nothing must not hide a write that landed meanwhile. A fresh
// record with Version <= floor is replaced, since the caller states that
// version is gone. A fresh marker is replaced by one with the higher of
// the two floors and a renewed NegativeTTL.
func (c *Cache) InstallNotFound(key string, floor uint64) bool {
	now := c.clock.read()
	s, h := c.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.peek(h, key)
	if old != nil && now < old.fresh {
		if !old.negative && old.version > floor {
			return false
		}
		if old.negative {
			floor = max(floor, old.version)
		}
	}
	size := entrySize(len(key), 0)
	if len(key) > maxKey || !s.fits(size) {
		if old != nil {
			s.drop(old, now)
		}
		return false
	}
	it := newItem(key, h, addNanos(now, c.negativeTTL))
	it.version = floor
	it.negative = true
	s.put(old, it, now)
	return true
}

// Remove drops whatever is cached under key and reports whether it was a
// fresh record or marker.
func (c *Cache) Remove(key string) bool {
	return c.removeIf(key, func(*item) bool { return true })
}

// RemoveIfOlder drops a fresh record under key whose Version is below
// version, or a fresh marker whose floor is below version, and reports
// whether it did. It is what an invalidation "key now has version" does:
// anything older is stale, a record of that version or newer is kept.
// An expired entry under key is removed too, but reported as false.
func (c *Cache) RemoveIfOlder(key string, version uint64) bool {
	return c.removeIf(key, func(it *item) bool {
		return it.version < version // a record's Version or a marker's floor
	})
}

// removeIf removes the entry under key if it is expired, or if it is
// fresh and stale reports true for it; it reports whether it removed a
// fresh one.
func (c *Cache) removeIf(key string, stale func(*item) bool) bool {
	now := c.clock.read()
	s, h := c.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.peek(h, key)
	switch {
	case old == nil:
		return false
	case now >= old.fresh:
		s.drop(old, now)
		return false
	case !stale(old):
		return false
	}
	s.remove(old)
	return true
}
