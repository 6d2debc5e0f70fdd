package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/metrics/metricstest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// The files under test, and the metric list they must keep to.
const (
	dashboardFile = "grafana-dashboard.json"
	alertsFile    = "alerts.yml"
	alertTests    = "testdata/alerts_test.yml"
	metricsDoc    = "../metrics/doc.go"
)

// promtoolHint tells how to get promtool on Debian and Ubuntu.
const promtoolHint = "promtool not found on PATH; install it with: apt-get install -y prometheus"

// metricName matches the metric names a file mentions.
var metricName = regexp.MustCompile(`\btiersession_[a-z0-9_]+`)

// scrape registers a tier.Store with a bus on a fresh registry, gives it
// some traffic (misses, hits, a create, a conflict), serves /metrics with
// promhttp and returns what a scrape of it parses to.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	t.Cleanup(func() { _ = bus.Close() })
	st, err := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{Bus: bus, Registerer: reg, LocalCapacity: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rec, err := st.Create(ctx, tier.Record{Key: "session-a", Data: []byte("hello"), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := st.Get(ctx, rec.Key); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.Get(ctx, "session-absent"); err != nil {
		t.Fatal(err)
	}
	stale := rec
	stale.Version = 7
	if _, err := st.Save(ctx, stale); err == nil {
		t.Fatal("a Save at a wrong version succeeded")
	}

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	return metricstest.Scrape(t, srv.URL+"/metrics")
}

// gauge returns the value of the only sample of the gauge name.
func gauge(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok || len(f.GetMetric()) != 1 || f.GetMetric()[0].Gauge == nil {
		t.Fatalf("/metrics has no single gauge %s", name)
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

// documented returns the metric names listed in package metrics' doc.
func documented(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+(tiersession_[a-z0-9_]+)`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) < 20 {
		t.Fatalf("found only %d metrics in %s: has its list changed shape?", len(names), metricsDoc)
	}
	return names
}

// exists reports whether name is a scraped family, or a series of one of
// its histograms (name_bucket, name_sum, name_count).
func exists(families map[string]*dto.MetricFamily, name string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
	}
	return false
}

func TestDocumentedMetricsAreScraped(t *testing.T) {
	families := scrape(t)
	docs := documented(t)
	for _, name := range docs {
		if !exists(families, name) {
			t.Errorf("%s is documented in %s but not scraped", name, metricsDoc)
		}
	}
	for name := range families {
		if strings.HasPrefix(name, "tiersession_") && !slices.Contains(docs, name) {
			t.Errorf("%s is scraped but not documented in %s", name, metricsDoc)
		}
	}
	// The gauges operators size the local tier and the bus with.
	if got := gauge(t, families, "tiersession_local_capacity"); got != 100 {
		t.Errorf("tiersession_local_capacity = %v, want the configured 100", got)
	}
	if got := gauge(t, families, "tiersession_local_bytes"); got < float64(len("session-a")+len("hello")) {
		t.Errorf("tiersession_local_bytes = %v, want at least the cached session's key and data", got)
	}
	if got := gauge(t, families, "tiersession_local_max_bytes"); got != 0 {
		t.Errorf("tiersession_local_max_bytes = %v, want 0 (no byte cap)", got)
	}
	if got := gauge(t, families, "tiersession_bus_publish_queue_depth"); got != 0 {
		t.Errorf("tiersession_bus_publish_queue_depth = %v, want 0 on an in-process bus", got)
	}
}

// checkNames fails for every metric src names that the scrape lacks.
func checkNames(t *testing.T, file string, src []byte, families map[string]*dto.MetricFamily) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range metricName.FindAll(src, -1) {
		name := string(m)
		if seen[name] {
			continue
		}
		seen[name] = true
		if !exists(families, name) {
			t.Errorf("%s uses %s, which a scrape does not have", file, name)
		}
	}
	if len(seen) < 5 {
		t.Errorf("%s names only %d metrics", file, len(seen))
	}
}

// dashboardExprs returns every PromQL query of the dashboard, checking
// the panels' shape on the way.
func dashboardExprs(t *testing.T, src []byte) []string {
	t.Helper()
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int            `json:"id"`
			Type    string         `json:"type"`
			Title   string         `json:"title"`
			GridPos map[string]int `json:"gridPos"`
			Targets []struct {
				RefID      string            `json:"refId"`
				Expr       string            `json:"expr"`
				Datasource map[string]string `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(src, &dash); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("%s: uid %q, title %q, %d panels", dashboardFile, dash.UID, dash.Title, len(dash.Panels))
	}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos["w"] <= 0 || p.GridPos["h"] <= 0 || p.GridPos["x"]+p.GridPos["w"] > 24 {
			t.Errorf("panel %q: gridPos %v", p.Title, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || tg.Expr == "" || tg.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: target %+v", p.Title, tg)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

func TestDashboardAndRulesUseScrapedMetrics(t *testing.T) {
	families := scrape(t)
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dashboardExprs(t, dash)
	checkNames(t, dashboardFile, dash, families)
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, alertsFile, rules, families)
	// The alerts the operators asked for, by the metric each watches.
	for _, want := range []string{
		"tiersession_bus_connected", "tiersession_bus_purges_total", "tiersession_bus_gaps_total",
		"tiersession_stale_served_total", "tiersession_conflicts_total", `result="error"`,
		"tiersession_local_hits_total", "tiersession_loads_rejected_total", "tiersession_breaker_open",
	} {
		if !bytes.Contains(rules, []byte(want)) {
			t.Errorf("%s has no rule on %s", alertsFile, want)
		}
	}
}

// promtool returns the path of promtool, skipping the test without it
// (failing it under CI=true).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(promtoolHint)
		}
		t.Skip(promtoolHint)
	}
	return p
}

// runPromtool runs promtool with args and fails the test on an error.
func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", alertsFile)
}

// withoutAnnotations returns rules with every annotations block removed.
func withoutAnnotations(rules string) string {
	var out []string
	skip := -1 // indentation of the annotations key being skipped
	for _, line := range strings.Split(rules, "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if skip >= 0 {
			if strings.TrimSpace(line) == "" || indent > skip {
				continue
			}
			skip = -1
		}
		if strings.TrimSpace(line) == "annotations:" {
			skip = indent
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestAlertRulesBehave(t *testing.T) {
	tool := promtool(t)
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(alertTests)
	if err != nil {
		t.Fatal(err)
	}
	stripped := withoutAnnotations(string(rules))
	if strings.Contains(stripped, "description:") || !strings.Contains(stripped, "severity:") {
		t.Fatalf("annotations not stripped cleanly:\n%s", stripped)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"alerts.yml": []byte(stripped), "alerts_test.yml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(tool, "test", "rules", filepath.Join(dir, "alerts_test.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func TestDashboardQueriesParse(t *testing.T) {
	tool := promtool(t)
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	// Each query becomes a recording rule, Grafana's variables replaced by
	// what they stand for, so that promtool parses it.
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, expr := range dashboardExprs(t, dash) {
		q, err := json.Marshal(vars.Replace(expr)) // a JSON string is a YAML double-quoted scalar
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(q, []byte("$")) {
			t.Errorf("query %d keeps a variable: %s", i, q)
		}
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("dashboard queries do not parse: %v\n%s\n%s", err, out, b.String())
	}
}
