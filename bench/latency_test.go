package bench

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

func TestLognormalQuantiles(t *testing.T) {
	p50, p99 := 3*time.Millisecond, 10*time.Millisecond
	if got := lognormal(p50, p99, 0); got != p50 {
		t.Errorf("z=0 gives %v, want the median %v", got, p50)
	}
	if got := lognormal(p50, p99, z99); got < p99-time.Microsecond || got > p99+time.Microsecond {
		t.Errorf("z=z99 gives %v, want the p99 %v", got, p99)
	}
	if got := lognormal(p50, p99, 100); got != maxModelLatency {
		t.Errorf("a far tail draw gives %v, want the cap %v", got, maxModelLatency)
	}
	if got := lognormal(0, 0, 1); got != 0 {
		t.Errorf("the zero model gives %v", got)
	}
}

func TestLatencyModelSamples(t *testing.T) {
	m := DefaultLatencyModel
	const n = 20_000
	check := func(what string, sample func() time.Duration, p50, p99 time.Duration) {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = sample()
		}
		slices.Sort(s)
		// About 10 standard errors for the median, 7 for the p99.
		if got := s[n/2]; got < p50*95/100 || got > p50*105/100 {
			t.Errorf("%s median %v, want %v ± 5%%", what, got, p50)
		}
		if got := s[n*99/100]; got < p99*90/100 || got > p99*110/100 {
			t.Errorf("%s p99 %v, want %v ± 10%%", what, got, p99)
		}
	}
	check("read", m.sampleRead, m.ReadP50, m.ReadP99)
	check("write", m.sampleWrite, m.WriteP50, m.WriteP99)
}

func TestLatencyModelValidate(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		m    LatencyModel
		ok   bool
	}{
		{"default", DefaultLatencyModel, true},
		{"none", LatencyModel{}, true},
		{"reads only", LatencyModel{ReadP50: ms, ReadP99: ms}, true},
		{"p99 below p50", LatencyModel{ReadP50: 2 * ms, ReadP99: ms}, false},
		{"negative", LatencyModel{WriteP50: -ms, WriteP99: ms}, false},
		{"p99 without p50", LatencyModel{WriteP99: ms}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if !(LatencyModel{}).Zero() || DefaultLatencyModel.Zero() {
		t.Error("Zero: only the zero model adds nothing")
	}
	if s := DefaultLatencyModel.String(); s != "lognormal: read p50 3ms p99 10ms; write p50 5ms p99 15ms" {
		t.Errorf("String() = %q", s)
	}
}

func TestMeterCountsEveryRequest(t *testing.T) {
	ctx := context.Background()
	m := NewMeter(remote.NewMemory(remote.MemoryOptions{}))
	exp := time.Now().Add(time.Hour)
	rec, err := m.Create(ctx, remote.Record{Key: "k", Data: []byte("x"), ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Get(ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, rec, rec.Version); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("stale Put: %v, want a conflict", err)
	}
	if _, err := m.Touch(ctx, "k", exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "k", 0); err != nil {
		t.Fatal(err)
	}
	want := RemoteCounts{Reads: 2, Writes: 5, Conflicts: 1}
	if got := m.Counts(); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
	if got := want.sub(RemoteCounts{Reads: 1, Writes: 2, Conflicts: 1}); got != (RemoteCounts{Reads: 1, Writes: 3}) {
		t.Errorf("sub = %+v", got)
	}
}
