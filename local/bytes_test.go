package local

import "testing"

func TestBytes(t *testing.T) {
	c, _ := newTestCache(t, Options{Capacity: 64})
	// sized returns an entry of version v with n bytes of data.
	sized := func(v uint64, n int) Entry {
		e := rec(v)
		e.Data = make([]byte, n)
		return e
	}
	steps := []struct {
		name string
		do   func()
		want int64
	}{
		{"empty", func() {}, 0},
		{"a record", func() { mustInstall(t, c, "ab", sized(1, 1)) }, 2 + 1},
		{"another", func() { mustInstall(t, c, "cde", sized(1, 10)) }, 3 + 3 + 10},
		{"a not-found marker: its key", func() { c.InstallNotFound("fghi", 0) }, 3 + 13 + 4},
		{"replaced by a newer version", func() { mustInstall(t, c, "ab", sized(2, 5)) }, 7 + 13 + 4},
		{"removed", func() { c.Remove("cde") }, 7 + 4},
		{"purged", c.Purge, 0},
	}
	for _, st := range steps {
		st.do()
		if got := c.Bytes(); got != st.want {
			t.Fatalf("after %s: Bytes() = %d, want %d", st.name, got, st.want)
		}
	}
}
