package local

// list is an intrusive doubly linked list of items in recency order, the
// front being the most recently moved: a shard's LRU order. The links live
// in the items, so keeping an entry in LRU order costs two pointers and no
// allocation. All methods need the shard lock. An item is in a list
// exactly when its prev link is set: removal clears the links, so a
// reader's stale pointer to a removed item is recognised by the writer it
// hands the item to (see shard.expire).
type list struct {
	root item // sentinel: root.next is the front, root.prev the back
	len  int
}

// init empties l. Items still linked into it must have been unlinked.
func (l *list) init() {
	l.root.next = &l.root
	l.root.prev = &l.root
	l.len = 0
}

// pushFront links it, which is in no list, at the front of l.
func (l *list) pushFront(it *item) {
	it.prev = &l.root
	it.next = l.root.next
	l.root.next.prev = it
	l.root.next = it
	l.len++
}

// remove unlinks it, which is in l.
func (l *list) remove(it *item) {
	it.prev.next = it.next
	it.next.prev = it.prev
	it.prev, it.next = nil, nil
	l.len--
}

// moveToFront moves it, which is in l, to the front.
func (l *list) moveToFront(it *item) {
	if l.root.next == it {
		return
	}
	l.remove(it)
	l.pushFront(it)
}

// back returns the least recently moved item, or nil if l is empty.
func (l *list) back() *item {
	if l.len == 0 {
		return nil
	}
	return l.root.prev
}

// clear unlinks every item and empties l.
func (l *list) clear() {
	for it := l.root.next; it != &l.root; {
		next := it.next
		it.prev, it.next = nil, nil
		it = next
	}
	l.init()
}

// linked reports whether it is in a list.
func (it *item) linked() bool { return it.prev != nil }
