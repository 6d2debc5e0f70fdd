package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartWidth   = 1000
	chartHeight  = 480
	panelTop     = 90
	panelBottom  = 400
	latencyLeft  = 70
	latencyRight = 560
	sweepLeft    = 640
	sweepRight   = 960
)

// percentileColors are the bar colours of p50, p90, p99 and p99.9.
var percentileColors = [4]string{"#4e79a7", "#59a14f", "#f28e2b", "#e15759"}

// WriteSVG draws the report as one self-contained SVG image: request
// latency percentiles per system on a log scale (left), and the local hit
// ratio against local capacity from the sweep (right).
func (r *Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, chartHeight)
	c := r.Config
	text(&b, 20, 30, "start", "16", "bold", fmt.Sprintf("tierbench: workload %s, %s over %d sessions, %d clients", c.Workload, c.Distribution, c.Sessions, c.Concurrency))
	sub := fmt.Sprintf("remote: %s", c.Remote)
	if c.Remote == "memory" {
		sub += " (" + c.Latency.Description + ")"
	}
	sub += fmt.Sprintf("; local tier %g%% of sessions per node", 100*c.LocalFraction)
	text(&b, 20, 52, "start", "12", "normal", sub)
	r.drawLatency(&b)
	r.drawSweep(&b)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawLatency draws grouped bars of p50/p90/p99/p99.9 per system on a
// logarithmic axis.
func (r *Report) drawLatency(b *strings.Builder) {
	text(b, (latencyLeft+latencyRight)/2, panelTop-15, "middle", "13", "bold", "Request latency per system (log scale, lower is better)")
	if len(r.Systems) == 0 {
		text(b, (latencyLeft+latencyRight)/2, (panelTop+panelBottom)/2, "middle", "12", "normal", "no systems measured")
		return
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range r.Systems {
		for _, v := range percentiles(s.Latency) {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if math.Log10(lo)-dlo < 0.3 {
		dlo-- // keep the shortest bar visible above the axis
	}
	if dhi <= dlo {
		dhi = dlo + 1
	}
	y := func(v float64) float64 {
		if v <= 0 {
			return panelBottom
		}
		f := (math.Log10(v) - dlo) / (dhi - dlo)
		return panelBottom - f*(panelBottom-panelTop)
	}
	for d := dlo; d <= dhi; d++ {
		yy := y(math.Pow(10, d))
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", latencyLeft, yy, latencyRight, yy)
		text(b, latencyLeft-6, int(yy)+4, "end", "11", "normal", decadeLabel(int(d)))
	}
	axes(b, latencyLeft, latencyRight)

	group := float64(latencyRight-latencyLeft) / float64(len(r.Systems))
	bar := math.Min(26, group*0.8/4)
	for i, s := range r.Systems {
		x0 := float64(latencyLeft) + group*float64(i) + (group-4*bar)/2
		for j, v := range percentiles(s.Latency) {
			x, top := x0+float64(j)*bar, y(v)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x, top, bar-2, panelBottom-top, percentileColors[j], html.EscapeString(s.Name), percentileNames[j], formatMicros(v))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="start" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
				x+bar/2+3, top-3, x+bar/2+3, top-3, html.EscapeString(formatMicros(v)))
		}
		text(b, int(x0+2*bar), panelBottom+18, "middle", "12", "normal", s.Name)
	}
	for j, name := range percentileNames {
		x := latencyLeft + 10 + j*80
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, panelBottom+40, percentileColors[j])
		text(b, x+16, panelBottom+50, "start", "12", "normal", name)
	}
}

// decadeLabel names 10^d microseconds: 100ns, 1µs, 10µs, ..., 1s.
func decadeLabel(d int) string {
	units := []struct {
		name string
		exp  int // the unit is 10^exp µs
	}{{"ns", -3}, {"µs", 0}, {"ms", 3}, {"s", 6}}
	u := units[0]
	for _, c := range units {
		if d >= c.exp {
			u = c
		}
	}
	return fmt.Sprintf("%.0f%s", math.Pow(10, float64(d-u.exp)), u.name)
}

// percentileNames label the bars of each group.
var percentileNames = [4]string{"p50", "p90", "p99", "p99.9"}

// percentiles lists a latency's charted percentiles in bar order.
func percentiles(l Latency) [4]float64 { return [4]float64{l.P50, l.P90, l.P99, l.P999} }

// drawSweep draws the hit ratio against local capacity.
func (r *Report) drawSweep(b *strings.Builder) {
	text(b, (sweepLeft+sweepRight)/2, panelTop-15, "middle", "13", "bold", "Local hit ratio vs local capacity")
	for pct := 0; pct <= 100; pct += 25 {
		yy := panelBottom - float64(pct)/100*(panelBottom-panelTop)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", sweepLeft, yy, sweepRight, yy)
		text(b, sweepLeft-6, int(yy)+4, "end", "11", "normal", fmt.Sprintf("%d%%", pct))
	}
	axes(b, sweepLeft, sweepRight)
	text(b, (sweepLeft+sweepRight)/2, panelBottom+50, "middle", "12", "normal", "local capacity, % of sessions (one node)")
	text(b, (sweepLeft+sweepRight)/2, panelBottom+68, "middle", "11", "normal",
		fmt.Sprintf("local TTL %gs: a session must recur within it to hit", r.Config.LocalTTLSeconds))
	if len(r.Sweep) == 0 {
		text(b, (sweepLeft+sweepRight)/2, (panelTop+panelBottom)/2, "middle", "12", "normal", "no capacity sweep in this run")
		return
	}
	step := float64(sweepRight-sweepLeft) / float64(len(r.Sweep))
	var pts []string
	for i, p := range r.Sweep {
		x := float64(sweepLeft) + step*(float64(i)+0.5)
		yy := panelBottom - p.HitRatio*(panelBottom-panelTop)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, yy))
		text(b, int(x), panelBottom+18, "middle", "12", "normal", fmt.Sprintf("%g%%", 100*p.Fraction))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), percentileColors[0])
	for i, p := range r.Sweep {
		x := float64(sweepLeft) + step*(float64(i)+0.5)
		yy := panelBottom - p.HitRatio*(panelBottom-panelTop)
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>capacity %d: hit ratio %.1f%%, %.0f remote reads per 1000 ops</title></circle>`+"\n",
			x, yy, percentileColors[0], p.Capacity, 100*p.HitRatio, p.RemoteReadsPer1000)
		text(b, int(x), int(yy)-9, "middle", "11", "normal", fmt.Sprintf("%.1f%%", 100*p.HitRatio))
	}
}

// axes draws the x and y axis lines of a panel.
func axes(b *strings.Builder, left, right int) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", left, panelTop, left, panelBottom)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", left, panelBottom, right, panelBottom)
}

// text writes one escaped text element.
func text(b *strings.Builder, x, y int, anchor, size, weight, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="%s" font-size="%s" font-weight="%s">%s</text>`+"\n",
		x, y, anchor, size, weight, html.EscapeString(s))
}
