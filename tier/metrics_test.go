package tier_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

// TestLatencyBucketsReachLoadTimeout checks that the remote latency
// histogram has a bucket above LoadTimeout, so that reads it cut off are
// told apart from reads that merely took long.
func TestLatencyBucketsReachLoadTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{5 * time.Second, 30 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := tiertest.Open(t, remote.NewMemory(remote.MemoryOptions{}), tier.Options{Registerer: reg, LoadTimeout: timeout})
			if _, _, err := s.Get(context.Background(), remotetest.Key(t)); err != nil {
				t.Fatal(err)
			}
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range families {
				if f.GetName() != "tiersession_remote_request_duration_seconds" {
					continue
				}
				b := f.GetMetric()[0].GetHistogram().GetBucket()
				last, before := b[len(b)-1].GetUpperBound(), b[len(b)-2].GetUpperBound()
				if last <= timeout.Seconds() || before > timeout.Seconds() {
					t.Fatalf("buckets end at %v, %v: want the first bound above LoadTimeout %v last", before, last, timeout)
				}
				return
			}
			t.Fatal("no tiersession_remote_request_duration_seconds after a remote read")
		})
	}
}
