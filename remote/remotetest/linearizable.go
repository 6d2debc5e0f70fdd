package remotetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tiersession/tiersession/remote"
)

// regInput is one operation on the register the linearizability case
// drives: a read, or a version-checked write of data.
type regInput struct {
	write    bool
	expected uint64
	data     string
}

// regOutput is what the store answered.
type regOutput struct {
	ok       bool   // a read found the record, or a write succeeded
	conflict bool   // a write failed its version check
	unknown  bool   // a write's outcome is unknown (ErrUnknownOutcome)
	version  uint64 // read or written version; for a conflict, the current one
	data     string // what a read returned
}

// regState is the register: the record's version and data.
type regState struct {
	version uint64
	data    string
}

// registerModel is a version-checked register: the specification every
// Store must be linearizable against, on one key. A write whose outcome is
// unknown may or may not have taken effect, hence the nondeterminism.
var registerModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{regState{version: 1, data: "init"}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		applied := regState{in.expected + 1, in.data}
		switch {
		case !in.write:
			if out.ok && out.version == s.version && out.data == s.data {
				return []any{s}
			}
		case out.unknown:
			if s.version == in.expected {
				return []any{s, applied}
			}
			return []any{s}
		case out.ok:
			if s.version == in.expected && out.version == in.expected+1 {
				return []any{applied}
			}
		case out.conflict:
			if s.version != in.expected && out.version == s.version {
				return []any{s}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		if !in.write {
			return fmt.Sprintf("get() -> v%d %q", out.version, out.data)
		}
		return fmt.Sprintf("put(v%d, %q) -> %+v", in.expected, in.data, out)
	},
}).ToModel()

// testLinearizable has concurrent clients read and write one key, losing
// some write responses on the way, and checks with porcupine that the
// history is linearizable for a version-checked register. Reads are
// strongly consistent where the store offers ConsistentGetter (an
// eventually consistent read is not meant to be linearizable).
func testLinearizable(t *testing.T, e *env) {
	const clients, opsPerClient = 4, 20
	rec := e.record(t, "init")
	rec, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	get := e.Store.Get
	if cg, ok := e.Store.(remote.ConsistentGetter); ok {
		get = cg.GetConsistent
	}
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			seen := uint64(1) // the version this client last saw
			for i := range opsPerClient {
				in := regInput{write: rng.IntN(2) == 0, expected: seen, data: fmt.Sprintf("c%d-%d", c, i)}
				if in.write && rng.IntN(4) == 0 {
					e.LoseNextResponse()
				}
				call := time.Since(start).Nanoseconds()
				var out regOutput
				if in.write {
					w := rec
					w.Data = []byte(in.data)
					got, err := e.Store.Put(e.ctx, w, in.expected)
					var ce *remote.ConflictError
					switch {
					case err == nil:
						out = regOutput{ok: true, version: got.Version}
					case errors.As(err, &ce):
						out = regOutput{conflict: true, version: ce.Current}
					case errors.Is(err, remote.ErrUnknownOutcome):
						out = regOutput{unknown: true, version: in.expected}
					default:
						t.Errorf("Put: %v", err)
						return
					}
				} else {
					got, found, err := get(e.ctx, rec.Key)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					out = regOutput{ok: found, version: got.Version, data: string(got.Data)}
				}
				ret := time.Since(start).Nanoseconds()
				seen = out.version
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("the history of %d operations is not linearizable (porcupine: %v)", len(history), res)
	}
}
