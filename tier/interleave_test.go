package tier_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// holdOnce passes calls through, except the first one that arm selects:
// that one makes its remote call, signals held, and returns its answer
// only once the test closes release. It forces "the remote answered, the
// Store has not acted on the answer yet".
type holdOnce struct {
	held    chan struct{}
	release chan struct{}
	armed   chan struct{} // holds one token while a call may still be held
}

func newHoldOnce() *holdOnce {
	h := &holdOnce{held: make(chan struct{}), release: make(chan struct{}), armed: make(chan struct{}, 1)}
	h.armed <- struct{}{}
	return h
}

// hold blocks the calling remote operation if it is the first one.
func (h *holdOnce) hold(ctx context.Context) {
	select {
	case <-h.armed:
	default:
		return
	}
	close(h.held)
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

// heldConsistentReads holds the answer of the first GetConsistent.
type heldConsistentReads struct {
	*remote.Memory
	*holdOnce
}

func (r heldConsistentReads) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	rec, found, err := r.Memory.GetConsistent(ctx, key)
	r.hold(ctx)
	return rec, found, err
}

// heldPuts holds the answer of the first Put.
type heldPuts struct {
	*remote.Memory
	*holdOnce
}

func (r heldPuts) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	out, err := r.Memory.Put(ctx, rec, expected)
	r.hold(ctx)
	return out, err
}

// conflictingSave writes rec at version held by a Store that is behind: it
// must conflict (and so drop the Store's local copy).
func conflictingSave(t *testing.T, s *tier.Store, rec tier.Record, held uint64) {
	t.Helper()
	rec.Version = held
	if _, err := s.Save(t.Context(), rec); !errors.Is(err, tier.ErrConflict) {
		t.Fatalf("Save at version %d: err = %v; want ErrConflict", held, err)
	}
}

// TestReloadInstallsNothingAfterAChange is the reload path of issue 8.2:
// Update's reload reads v2 and is held; meanwhile this node writes v3 and
// then a stale write conflicts, which drops v3 from the local tier. The
// reload must not put v2 into the empty slot, where a later Get would
// serve it although v3 was acknowledged.
func TestReloadInstallsNothingAfterAChange(t *testing.T) {
	f := newFixture()
	hold := newHoldOnce()
	s := f.store(t, heldConsistentReads{f.remote, hold}, tier.Options{})
	v1, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	// Another node moves the record to v2; s still caches v1, so its
	// Update conflicts and reloads.
	v2 := v1
	v2.Data = []byte("v2")
	if _, err := f.remote.Put(f.ctx, v2, 1); err != nil {
		t.Fatal(err)
	}

	errStop := errors.New("stop")
	secondCall := make(chan struct{})
	finish := make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		calls := 0
		_, err := s.Update(f.ctx, v1.Key, func(r tier.Record) (tier.Record, error) {
			calls++
			if calls == 2 { // the reload has returned and installed, or not
				close(secondCall)
				<-finish
				return r, errStop
			}
			r.Data = []byte("update")
			return r, nil
		})
		updated <- err
	}()

	<-hold.held // the reload read v2 and waits
	v3 := v2
	v3.Version, v3.Data = 2, []byte("v3")
	if out, err := s.Save(f.ctx, v3); err != nil || out.Version != 3 {
		t.Fatalf("Save v2→v3 = %+v, %v", out, err)
	}
	conflictingSave(t, s, v1, 2) // drops v3 from the local tier
	close(hold.release)
	<-secondCall

	got := mustGet(t, s, v1.Key)
	close(finish)
	if err := <-updated; !errors.Is(err, errStop) {
		t.Fatalf("Update: err = %v; want fn's error", err)
	}
	if got.Version != 3 || string(got.Data) != "v3" {
		t.Fatalf("Get after v3 was acknowledged = version %d %q; want version 3", got.Version, got.Data)
	}
}

// heldSave creates v1 on a Store and starts a Save of v2 whose answer is
// held: it returns once v2 is in the remote and the Save has not settled.
// The Save's error arrives on saved after hold.release is closed.
func heldSave(t *testing.T) (s *tier.Store, hold *holdOnce, v1 tier.Record, saved <-chan error) {
	t.Helper()
	f := newFixture()
	hold = newHoldOnce()
	s = f.store(t, heldPuts{f.remote, hold}, tier.Options{})
	v1, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		v2 := v1
		v2.Data = []byte("v2")
		_, err := s.Save(f.ctx, v2)
		done <- err
	}()
	<-hold.held
	return s, hold, v1, done
}

// TestWriteInstallsNothingAfterAChange is the write path of issue 8.2: a
// Save of v2 has landed but its answer is held; meanwhile this node writes
// v3 and a stale write conflicts, dropping v3. When the held Save
// resumes it must not install v2.
func TestWriteInstallsNothingAfterAChange(t *testing.T) {
	s, hold, v1, saved := heldSave(t)
	v3 := v1
	v3.Version, v3.Data = 2, []byte("v3")
	if out, err := s.Save(t.Context(), v3); err != nil || out.Version != 3 {
		t.Fatalf("Save v2→v3 = %+v, %v", out, err)
	}
	conflictingSave(t, s, v1, 1) // drops v3 from the local tier
	close(hold.release)
	if err := <-saved; err != nil {
		t.Fatalf("held Save: %v", err)
	}
	if got := mustGet(t, s, v1.Key); got.Version != 3 || string(got.Data) != "v3" {
		t.Fatalf("Get after v3 was acknowledged = version %d %q; want version 3", got.Version, got.Data)
	}
}

// TestWriteAfterChangeDropsOlderCopy: a write that finds its key changed
// meanwhile does not install what it wrote, but must still drop copies
// older than that, or this node would keep serving v1 after acknowledging
// v2.
func TestWriteAfterChangeDropsOlderCopy(t *testing.T) {
	s, hold, v1, saved := heldSave(t)
	// A change of the key while the write is in flight that leaves the
	// cached v1 in place: an invalidation for version 1.
	s.Invalidate(v1.Key, 1)
	close(hold.release)
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, v1.Key); got.Version != 2 || string(got.Data) != "v2" {
		t.Fatalf("Get = version %d %q; want version 2", got.Version, got.Data)
	}
}

// failingConsistentReads fails every GetConsistent.
type failingConsistentReads struct{ *remote.Memory }

func (failingConsistentReads) GetConsistent(context.Context, string) (remote.Record, bool, error) {
	return remote.Record{}, false, fmt.Errorf("%w: injected", remote.ErrUnavailable)
}

// TestUpdateReportsReloadError is issue 8.3: when the reload after a
// conflict fails, Update returns that error, never ErrNotFound (which a
// web server would take for "log the user out").
func TestUpdateReportsReloadError(t *testing.T) {
	f := newFixture()
	s := f.store(t, failingConsistentReads{f.remote}, tier.Options{})
	v1, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1
	v2.Data = []byte("v2")
	if _, err := f.remote.Put(f.ctx, v2, 1); err != nil { // s conflicts next
		t.Fatal(err)
	}
	_, err = s.Update(f.ctx, v1.Key, func(r tier.Record) (tier.Record, error) { return r, nil })
	if !errors.Is(err, tier.ErrUnavailable) || errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("Update whose reload fails: err = %v; want ErrUnavailable", err)
	}
}
