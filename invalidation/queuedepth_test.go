package invalidation_test

import (
	"testing"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

func TestRedisStatsQueueDepth(t *testing.T) {
	srv := redistest.Start(t)
	gate := newPipelineGate()
	a := newRedisBus(t, srv, invalidation.RedisOptions{QueueSize: 8}, gate)

	// Event 0 is taken by the publisher, which then blocks at the gate:
	// the queue is empty again.
	mustPublish(t, a, ev("k", 0, invalidation.Changed, "a"))
	gate.waitEntered(t)
	if d := a.Stats().QueueDepth; d != 0 {
		t.Fatalf("QueueDepth = %d with the only event taken, want 0", d)
	}
	for v := uint64(1); v <= 5; v++ {
		mustPublish(t, a, ev("k", v, invalidation.Changed, "a"))
	}
	if d := a.Stats().QueueDepth; d != 5 {
		t.Fatalf("QueueDepth = %d behind a stuck pipeline, want 5", d)
	}
	close(gate.open)
	waitFor(t, "the publish queue to drain", func() bool { return a.Stats().QueueDepth == 0 })
}
