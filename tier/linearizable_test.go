package tier_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
)

// TestLinearizableOneNode checks with porcupine that one Store, used by
// concurrent clients, behaves as a version-checked register: reads served
// from the local tier, shared loads racing with writes, version-aware
// installs and Update's retries together never show a value older than
// one already written or read. The remote answers after a random delay so
// that loads and writes overlap.
func TestLinearizableOneNode(t *testing.T) {
	f := newFixture()
	latency := func(bool) time.Duration { return time.Duration(rand.IntN(300)) * time.Microsecond }
	mem := remote.NewMemory(remote.MemoryOptions{Now: f.clock.Now, Latency: latency})
	rec := f.record(t, "init")
	rec, err := mem.Create(f.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	s := f.store(t, mem, tier.Options{MaxUpdateRetries: 50})

	const clients, opsPerClient = 6, 40
	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	var mu sync.Mutex
	var history []porcupine.Operation
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 11))
			seen := rec
			for i := range opsPerClient {
				data := fmt.Sprintf("c%d-%d", c, i)
				call := now()
				switch rng.IntN(4) {
				case 0: // a write at the version this client last saw
					w := seen
					w.Data = []byte(data)
					out, err := s.Save(f.ctx, w)
					op, err := remotetest.WriteOp(c, call, now(), seen.Version, data, out, err)
					if err != nil {
						t.Errorf("Save: %v", err)
						return
					}
					record(op)
					if out.Version != 0 {
						seen = out
					}
				case 1: // read-modify-write
					out, err := s.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) {
						r.Data = []byte(data)
						return r, nil
					})
					if err != nil {
						t.Errorf("Update: %v", err)
						return
					}
					op, _ := remotetest.WriteOp(c, call, now(), out.Version-1, data, out, nil)
					record(op)
					seen = out
				default:
					got, found, err := s.Get(f.ctx, rec.Key)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					record(remotetest.ReadOp(c, call, now(), got, found))
					if found {
						seen = got
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if res := porcupine.CheckOperationsTimeout(remotetest.RegisterModel, history, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("the history of %d operations is not linearizable (porcupine: %v)", len(history), res)
	}
	if st := s.Stats(); st.Conflicts == 0 || st.LocalHits == 0 {
		t.Fatalf("the run exercised too little: %d conflicts, %d hits", st.Conflicts, st.LocalHits)
	}
}
