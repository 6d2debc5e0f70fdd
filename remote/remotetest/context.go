package remotetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// testContextDone calls every method with a context that ended before the
// call. Nothing is sent, so a write is certainly not applied: its error
// matches the context's error and ErrUnavailable, never ErrUnknownOutcome,
// and the stored record does not change. A read returns the context's
// error.
func testContextDone(t *testing.T, e *env) {
	rec := e.create(t, "v1")
	fresh := e.record(t, "new")
	canceled, cancel := context.WithCancel(e.ctx)
	cancel()
	expired, cancelExpired := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
	defer cancelExpired()

	writes := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Create", func(ctx context.Context) error {
			_, err := e.Store.Create(ctx, fresh)
			return err
		}},
		{"Create over a live record", func(ctx context.Context) error {
			_, err := e.Store.Create(ctx, remote.Record{Key: rec.Key, Data: []byte("x"), ExpiresAt: rec.ExpiresAt})
			return err
		}},
		{"Put", func(ctx context.Context) error {
			r := rec
			r.Data = []byte("v2")
			_, err := e.Store.Put(ctx, r, 1)
			return err
		}},
		{"Touch", func(ctx context.Context) error {
			_, err := e.Store.Touch(ctx, rec.Key, rec.ExpiresAt.Add(time.Hour))
			return err
		}},
		{"Delete", func(ctx context.Context) error { return e.Store.Delete(ctx, rec.Key, 0) }},
		{"conditional Delete", func(ctx context.Context) error { return e.Store.Delete(ctx, rec.Key, 1) }},
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range writes {
				before := e.Requests()
				err := w.call(c.ctx)
				if !errors.Is(err, c.want) || !errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrUnknownOutcome) {
					t.Errorf("%s: err = %v; want %v and ErrUnavailable, not ErrUnknownOutcome", w.name, err, c.want)
				}
				if n := e.Requests() - before; n != 0 {
					t.Errorf("%s: sent %d requests; want none", w.name, n)
				}
			}
			if _, found, err := e.Store.Get(c.ctx, rec.Key); found || !errors.Is(err, c.want) {
				t.Errorf("Get: found %v, err %v; want %v", found, err, c.want)
			}
		})
	}
	got := e.mustGet(t, rec.Key)
	if got.Version != 1 || string(got.Data) != "v1" || !got.ExpiresAt.Equal(rec.ExpiresAt) {
		t.Fatalf("record after writes with an ended context = %+v; want %+v unchanged", got, rec)
	}
	e.mustMiss(t, fresh.Key)
}
