package httpsession_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tiersession/tiersession/httpsession"
)

// TestMetrics: a Manager registered as a Prometheus collector exports its
// Stats as counters, without labels.
func TestMetrics(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(f.mgr); err != nil {
		t.Fatal(err)
	}
	tok := f.login(t)
	f.do(t, "/get", "malformed")
	f.do(t, "/renew", tok)
	want := `
# HELP tiersession_httpsession_cookies_malformed_total Session cookies refused by their form, before any store read.
# TYPE tiersession_httpsession_cookies_malformed_total counter
tiersession_httpsession_cookies_malformed_total 1
# HELP tiersession_httpsession_renewals_total Successful Renew calls.
# TYPE tiersession_httpsession_renewals_total counter
tiersession_httpsession_renewals_total 1
# HELP tiersession_httpsession_sessions_created_total Sessions stored for the first time.
# TYPE tiersession_httpsession_sessions_created_total counter
tiersession_httpsession_sessions_created_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tiersession_httpsession_cookies_malformed_total",
		"tiersession_httpsession_renewals_total",
		"tiersession_httpsession_sessions_created_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 15 {
		t.Fatalf("%d metrics, %v; want 15", n, err)
	}
}
