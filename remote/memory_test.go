package remote_test

import (
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
)

func TestConformanceMemory(t *testing.T) {
	remotetest.Run(t, remotetest.Harness{
		Name: "memory",
		New: func(t testing.TB, now func() time.Time) remotetest.Target {
			m := remote.NewMemory(remote.MemoryOptions{Now: now})
			return remotetest.Target{
				Store:            m,
				Corrupt:          func(_ testing.TB, key string) { m.Corrupt(key) },
				LoseNextResponse: m.LoseNextResponse,
				Requests:         m.Requests,
			}
		},
	})
}
