package local

import "time"

// Stale returns the record cached under key although its TTL may have run
// out, provided it ran out less than Options.StaleGrace ago and the record
// itself has not expired: a copy to serve when the source of truth cannot
// be reached (stale-if-error). It returns fresh records too, never
// not-found markers, and with StaleGrace 0 only fresh records. It does not
// count in Stats, nor move the entry in the LRU order.
func (c *Cache) Stale(key string) (Entry, bool) {
	s, h := c.locate(key)
	it := s.tab.Load().find(h, key)
	if it == nil || !c.staleable(it, c.clock.read()) {
		return Entry{}, false
	}
	return it.entry(), true
}

// staleable reports whether Stale may return it at now.
func (c *Cache) staleable(it *item, now int64) bool {
	return !it.negative &&
		now < addNanos(it.fresh, time.Duration(c.staleGrace)) &&
		now < it.expiresNanos()-c.slack
}
