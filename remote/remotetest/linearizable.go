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

// regInput is one operation on a register: a read, or a version-checked
// write of data.
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

// RegisterModel is a version-checked register on one key whose record
// starts at version 1 with data "init": the specification a session store
// must be linearizable against. A write whose outcome is unknown may or
// may not have taken effect, hence the nondeterminism. Build its
// operations with ReadOp and WriteOp.
var RegisterModel = (&porcupine.NondeterministicModel{
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

// ReadOp is a read of the register by client over [call, ret] (any
// monotonic clock) that returned rec, found.
func ReadOp(client int, call, ret int64, rec remote.Record, found bool) porcupine.Operation {
	return porcupine.Operation{
		ClientId: client, Call: call, Return: ret,
		Input:  regInput{},
		Output: regOutput{ok: found, version: rec.Version, data: string(rec.Data)},
	}
}

// WriteOp is a write of data at version expected by client over [call, ret]
// that returned out, err. It returns an error for an err that is neither a
// conflict nor an unknown outcome: such a history cannot be checked.
func WriteOp(client int, call, ret int64, expected uint64, data string, out remote.Record, err error) (porcupine.Operation, error) {
	op := porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: regInput{write: true, expected: expected, data: data}}
	var ce *remote.ConflictError
	switch {
	case err == nil:
		op.Output = regOutput{ok: true, version: out.Version}
	case errors.As(err, &ce):
		op.Output = regOutput{conflict: true, version: ce.Current}
	case errors.Is(err, remote.ErrUnknownOutcome):
		op.Output = regOutput{unknown: true}
	default:
		return op, err
	}
	return op, nil
}

// testLinearizable has concurrent clients read and write one key, losing
// some write responses on the way, and checks with porcupine that the
// history is linearizable for a version-checked register. Reads are
// strongly consistent where the store offers ConsistentGetter (an
// eventually consistent read is not meant to be linearizable).
func testLinearizable(t *testing.T, e *env) {
	const clients, opsPerClient = 4, 20
	rec, err := e.Store.Create(e.ctx, e.record(t, "init"))
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
				var op porcupine.Operation
				call := time.Since(start).Nanoseconds()
				if rng.IntN(2) == 0 {
					if rng.IntN(4) == 0 {
						e.LoseNextResponse()
					}
					w := rec
					w.Data = fmt.Appendf(nil, "c%d-%d", c, i)
					out, err := e.Store.Put(e.ctx, w, seen)
					if op, err = WriteOp(c, call, time.Since(start).Nanoseconds(), seen, string(w.Data), out, err); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
				} else {
					got, found, err := get(e.ctx, rec.Key)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					op = ReadOp(c, call, time.Since(start).Nanoseconds(), got, found)
				}
				if v := op.Output.(regOutput).version; v != 0 {
					seen = v
				}
				mu.Lock()
				history = append(history, op)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if res := porcupine.CheckOperationsTimeout(RegisterModel, history, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("the history of %d operations is not linearizable (porcupine: %v)", len(history), res)
	}
}
