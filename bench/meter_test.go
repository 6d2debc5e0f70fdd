package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

func TestMeterCountsWhatDynamoDBBills(t *testing.T) {
	ctx := context.Background()
	m := NewMeter(remote.NewMemory(remote.MemoryOptions{}))
	exp := time.Now().Add(time.Hour)
	rec, err := m.Create(ctx, remote.Record{Key: "a", Data: []byte("x"), ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func()
		want RemoteCounts
	}{
		{"create", func() {}, RemoteCounts{Writes: 1}},
		{"read", func() { _, _, _ = m.Get(ctx, "a") }, RemoteCounts{Reads: 1, Writes: 1}},
		{"consistent read", func() { _, _, _ = m.GetConsistent(ctx, "a") }, RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 1}},
		{"stale put: a conflict on a stored item", func() { _, _ = m.Put(ctx, rec, 7) },
			RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 2, Conflicts: 1}},
		{"create over a stored item: a conflict", func() { _, _ = m.Create(ctx, rec) },
			RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 3, Conflicts: 2}},
		{"put of a missing item: refused, absent", func() { _, _ = m.Put(ctx, remote.Record{Key: "b", Data: []byte("x"), ExpiresAt: exp}, 1) },
			RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 4, Conflicts: 2, Absent: 1}},
		{"touch of a missing item: refused, absent", func() { _, _ = m.Touch(ctx, "b", exp) },
			RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 5, Conflicts: 2, Absent: 2}},
		{"put at the stored version", func() { _, _ = m.Put(ctx, rec, 1) },
			RemoteCounts{Reads: 1, ConsistentReads: 1, Writes: 6, Conflicts: 2, Absent: 2}},
	}
	for _, st := range steps {
		st.do()
		if got := m.Counts(); got != st.want {
			t.Fatalf("after %s: counts %+v, want %+v", st.name, got, st.want)
		}
	}
	if c := m.Counts(); c.AllReads() != 2 || c.Refused() != 4 {
		t.Errorf("AllReads %d, Refused %d; want 2 and 4", c.AllReads(), c.Refused())
	}
}
