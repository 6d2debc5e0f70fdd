// Package tiertest holds the helpers that tests of tier.Store share,
// whatever remote they run on: opening a Store that closes with the test,
// making a record, and reading one that must be there.
package tiertest

import (
	"context"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
)

// Open returns a tier.Store over r that is closed when the test ends.
func Open(t testing.TB, r remote.Store, opts tier.Options) *tier.Store {
	t.Helper()
	s, err := tier.New(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Record returns a record under a fresh storage key holding data, expiring
// an hour after now.
func Record(t testing.TB, now time.Time, data string) tier.Record {
	return tier.Record{Key: remotetest.Key(t), Data: []byte(data), ExpiresAt: now.Add(time.Hour)}
}

// MustGet reads key from s and fails the test unless the record is found.
func MustGet(t testing.TB, s *tier.Store, key string) tier.Record {
	t.Helper()
	rec, found, err := s.Get(context.Background(), key)
	if err != nil || !found {
		t.Fatalf("Get = found %v, err %v; want the record", found, err)
	}
	return rec
}
