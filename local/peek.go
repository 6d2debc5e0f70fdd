package local

// Peek is Get without side effects: it neither counts in Stats, nor moves
// the entry in the LRU order, nor removes an expired entry. A caller that
// has already counted a miss uses it to look again (the tier does, inside a
// shared load).
func (c *Cache) Peek(key string) (Entry, Result) {
	s, h := c.locate(key)
	it := s.tab.Load().find(h, key)
	if it == nil || c.clock.read() >= it.fresh {
		return Entry{}, Miss
	}
	if it.negative {
		return Entry{}, NegativeHit
	}
	return it.entry(), Hit
}
