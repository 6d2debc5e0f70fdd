package local

import (
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	c, _ := newTestCache(t, Options{Capacity: 64})
	// sized returns an entry of version v with n bytes of data.
	sized := func(v uint64, n int) Entry {
		e := rec(v)
		e.Data = make([]byte, n)
		return e
	}
	// Keys of up to 48 bytes are inside the entry's EntryOverhead; a
	// longer one counts in full.
	const o = EntryOverhead
	long := strings.Repeat("k", inlineKey+1)
	steps := []struct {
		name string
		do   func()
		want int64
	}{
		{"empty", func() {}, 0},
		{"a record", func() { mustInstall(t, c, "ab", sized(1, 1)) }, o + 1},
		{"another", func() { mustInstall(t, c, "cde", sized(1, 10)) }, o + 1 + o + 10},
		{"a not-found marker: the overhead only", func() { c.InstallNotFound("fghi", 0) }, o + 1 + o + 10 + o},
		{"replaced by a newer version", func() { mustInstall(t, c, "ab", sized(2, 5)) }, o + 5 + o + 10 + o},
		{"removed", func() { c.Remove("cde") }, o + 5 + o},
		{"a long key counts", func() { mustInstall(t, c, long, sized(1, 2)) }, o + 5 + o + o + int64(len(long)) + 2},
		{"purged", c.Purge, 0},
	}
	for _, st := range steps {
		st.do()
		if got := c.Bytes(); got != st.want {
			t.Fatalf("after %s: Bytes() = %d, want %d", st.name, got, st.want)
		}
	}
}
