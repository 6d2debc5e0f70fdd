package tiersession_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/tiersession/tiersession/metrics/metricstest"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
)

// scrape fetches /metrics over HTTP and parses the text exposition format.
var scrape = metricstest.Scrape

// value returns the value of the sample of family name whose labels
// include want (nil: the only sample).
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("/metrics has no %s%v", name, want)
	return 0
}

func TestMetricsScrape(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	reg := prometheus.NewRegistry()
	node := map[string]string{"node": "a"}
	s := tb.node(t, nil, tier.Options{Registerer: reg, MetricLabels: node})
	b := tb.node(t, nil, tier.Options{}) // no metrics: a second writer
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	rec, err := b.Create(ctx, tb.record(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	get(t, s, rec.Key) // miss, remote get ok
	for range 9 {
		get(t, s, rec.Key) // 9 hits
	}
	for range 3 {
		s.Get(ctx, remotetest.Key(t)) // 3 misses, remote get not_found
	}
	rec.Data = []byte("y")
	if _, err := b.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	stale := get(t, s, rec.Key) // still the cached version 1
	if _, err := s.Save(ctx, stale); err == nil {
		t.Fatal("a Save on a stale copy succeeded")
	}

	m := scrape(t, srv.URL+"/metrics")
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tiersession_local_hits_total", node, 10},
		{"tiersession_local_misses_total", node, 4},
		{"tiersession_remote_requests_total", map[string]string{"op": "get", "result": "ok", "node": "a"}, 1},
		{"tiersession_remote_requests_total", map[string]string{"op": "get", "result": "not_found"}, 3},
		{"tiersession_remote_requests_total", map[string]string{"op": "put", "result": "conflict"}, 1},
		{"tiersession_remote_requests_total", map[string]string{"op": "create", "result": "ok"}, 0},
		{"tiersession_conflicts_total", node, 1},
		{"tiersession_local_entries", node, 3}, // three negative entries; the conflict evicted the record
		{"tiersession_remote_request_duration_seconds", map[string]string{"op": "get"}, 4},
		{"tiersession_remote_request_duration_seconds", map[string]string{"op": "put"}, 1},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v; want %v", c.name, c.labels, got, c.want)
		}
	}
	for name := range m {
		for _, metric := range m[name].GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetValue() == rec.Key {
					t.Errorf("%s carries a session key in label %s", name, l.GetName())
				}
			}
		}
	}
}
