package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Chart geometry, in SVG user units: two rows of panels.
const (
	chartWidth  = 1200
	chartHeight = 860
)

// panel is the plotting area of one chart panel.
type panel struct{ left, top, right, bottom float64 }

// The panels: latency and throughput above; remote reads, cost and the
// capacity sweep below.
var (
	latencyPanel    = panel{80, 110, 700, 380}
	throughputPanel = panel{800, 110, 1160, 380}
	readsPanel      = panel{80, 530, 400, 790}
	costPanel       = panel{480, 530, 800, 790}
	sweepPanel      = panel{880, 530, 1160, 790}
)

func (p panel) midX() float64 { return (p.left + p.right) / 2 }
func (p panel) midY() float64 { return (p.top + p.bottom) / 2 }

// percentileColors are the bar colours of p50, p90, p99 and p99.9.
var percentileColors = [4]string{"#4e79a7", "#59a14f", "#f28e2b", "#e15759"}

// WriteSVG draws the report as one self-contained SVG image: request
// latency percentiles per system on a log scale, throughput, remote reads
// per 1000 requests and the DynamoDB cost per million requests per system,
// and the local hit ratio against local capacity from the sweep, beside
// the simulated exact LRU's and W-TinyLFU's on the same requests.
func (r *Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, chartHeight)
	c := r.Config
	title := fmt.Sprintf("tierbench: workload %s, %s over %d sessions, %d clients", c.Workload, c.Distribution, c.Sessions, c.Concurrency)
	if !r.Complete {
		title += fmt.Sprintf(" (INCOMPLETE: stopped during %s)", orDash(r.StoppedDuring))
	}
	text(&b, 20, 30, "start", "16", "bold", title)
	sub := fmt.Sprintf("remote: %s", c.Remote)
	if c.Remote == "memory" {
		sub += " (" + c.Latency.Description + ")"
	}
	sub += fmt.Sprintf("; local tier %s of sessions per node, TTL %gs; %gs measured per system", formatPercent(c.LocalFraction), c.LocalTTLSeconds, c.DurationSeconds)
	text(&b, 20, 52, "start", "12", "normal", sub)
	if c.RedisNote != "" {
		text(&b, 20, 70, "start", "12", "normal", "redis: "+c.RedisNote)
	}

	r.drawLatency(&b)
	names := make([]string, len(r.Systems))
	thr := make([]float64, len(r.Systems))
	reads := make([]float64, len(r.Systems))
	cost := make([]float64, len(r.Systems))
	billed := make([]bool, len(r.Systems))
	all := make([]bool, len(r.Systems))
	for i, s := range r.Systems {
		names[i], thr[i], reads[i], all[i] = s.Name, s.Throughput, s.RemoteReadsPer1000, true
		if s.CostPerMillionOps != nil {
			cost[i], billed[i] = *s.CostPerMillionOps, true
		}
	}
	drawBars(&b, throughputPanel, "Throughput (higher is better)", "throughput", "#4e79a7", names, thr, all,
		func(v float64) string { return formatCount(v) }, "requests per second, all clients")
	drawBars(&b, readsPanel, "Remote reads per 1000 requests", "reads", "#f28e2b", names, reads, all,
		func(v float64) string { return fmt.Sprintf("%.0f", v) }, "DynamoDB (Redis for redis)")
	drawBars(&b, costPanel, "DynamoDB cost per million requests", "cost", "#59a14f", names, cost, billed,
		func(v float64) string { return fmt.Sprintf("$%.4f", v) }, "on-demand; n/a: not DynamoDB")
	r.drawSweep(&b)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawLatency draws grouped bars of p50/p90/p99/p99.9 per system on a
// logarithmic axis.
func (r *Report) drawLatency(b *strings.Builder) {
	p := latencyPanel
	text(b, int(p.midX()), int(p.top)-15, "middle", "13", "bold", "Request latency per system (log scale, lower is better)")
	if len(r.Systems) == 0 {
		text(b, int(p.midX()), int(p.midY()), "middle", "12", "normal", "no systems measured")
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
			return p.bottom
		}
		f := (math.Log10(v) - dlo) / (dhi - dlo)
		return p.bottom - f*(p.bottom-p.top)
	}
	for d := dlo; d <= dhi; d++ {
		yy := y(math.Pow(10, d))
		gridLine(b, p, yy)
		text(b, int(p.left)-6, int(yy)+4, "end", "11", "normal", decadeLabel(int(d)))
	}
	axes(b, p)

	group := (p.right - p.left) / float64(len(r.Systems))
	bar := math.Min(26, group*0.8/4)
	for i, s := range r.Systems {
		x0 := p.left + group*float64(i) + (group-4*bar)/2
		for j, v := range percentiles(s.Latency) {
			x, top := x0+float64(j)*bar, y(v)
			fmt.Fprintf(b, `<rect class="latency" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x, top, bar-2, p.bottom-top, percentileColors[j], html.EscapeString(s.Name), percentileNames[j], formatMicros(v))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="start" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
				x+bar/2+3, top-3, x+bar/2+3, top-3, html.EscapeString(formatMicros(v)))
		}
		text(b, int(x0+2*bar), int(p.bottom)+18, "middle", "12", "normal", s.Name)
	}
	for j, name := range percentileNames {
		x := int(p.left) + 10 + j*80
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, int(p.bottom)+32, percentileColors[j])
		text(b, x+16, int(p.bottom)+42, "start", "12", "normal", name)
	}
}

// drawBars draws one bar per system on a linear axis from 0, labelled
// with format(value). A system whose has[i] is false gets no bar, only
// "n/a".
func drawBars(b *strings.Builder, p panel, title, class, color string, names []string, vals []float64, has []bool, format func(float64) string, note string) {
	text(b, int(p.midX()), int(p.top)-15, "middle", "13", "bold", title)
	text(b, int(p.midX()), int(p.bottom)+42, "middle", "11", "normal", note)
	if len(names) == 0 {
		axes(b, p)
		text(b, int(p.midX()), int(p.midY()), "middle", "12", "normal", "no systems measured")
		return
	}
	top := 0.0
	for i, v := range vals {
		if has[i] && v > top && !math.IsInf(v, 0) {
			top = v
		}
	}
	step, ticks := niceTicks(top)
	scaleTop := step * float64(ticks)
	y := func(v float64) float64 { return p.bottom - v/scaleTop*(p.bottom-p.top) }
	for t := 0; t <= ticks; t++ {
		v := step * float64(t)
		gridLine(b, p, y(v))
		text(b, int(p.left)-6, int(y(v))+4, "end", "11", "normal", format(v))
	}
	axes(b, p)
	group := (p.right - p.left) / float64(len(names))
	bar := math.Min(48, group*0.6)
	for i, name := range names {
		x := p.left + group*float64(i) + (group-bar)/2
		label := "n/a"
		if has[i] {
			v := min(max(vals[i], 0), scaleTop)
			label = format(vals[i])
			fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
				class, x, y(v), bar, p.bottom-y(v), color, html.EscapeString(name), html.EscapeString(label))
			text(b, int(x+bar/2), int(y(v))-4, "middle", "10", "normal", label)
		} else {
			text(b, int(x+bar/2), int(p.bottom)-4, "middle", "10", "normal", label)
		}
		text(b, int(x+bar/2), int(p.bottom)+18, "middle", "11", "normal", name)
	}
}

// niceTicks returns a round tick step (1, 2, 2.5 or 5 times a power of ten)
// and the number of steps from 0 that reach at least top, about four.
func niceTicks(top float64) (step float64, n int) {
	if !(top > 0) {
		return 1, 1
	}
	raw := top / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return step, int(math.Ceil(top/step - 1e-9))
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

// sweepSeries is one line of the sweep panel.
type sweepSeries struct {
	name, class, color string
	dash               bool
	value              func(SweepPoint) *float64
}

// The sweep panel's lines: the local tier's measured hit ratio, and the
// simulated references on the same requests.
var sweepLines = []sweepSeries{
	{"local tier (measured)", "sweep", percentileColors[0], false, func(p SweepPoint) *float64 { return &p.HitRatio }},
	{"exact LRU (simulated)", "sweep-lru", percentileColors[1], true, func(p SweepPoint) *float64 { return p.SimLRUHitRatio }},
	{"W-TinyLFU (simulated)", "sweep-tinylfu", percentileColors[3], true, func(p SweepPoint) *float64 { return p.SimTinyLFUHitRatio }},
}

// drawSweep draws the hit ratio against local capacity: the local tier's
// measured one and, where the sweep simulated them, exact LRU's and
// W-TinyLFU's on the same requests, with a legend.
func (r *Report) drawSweep(b *strings.Builder) {
	p := sweepPanel
	text(b, int(p.midX()), int(p.top)-15, "middle", "13", "bold", "Local hit ratio vs local capacity")
	for pct := 0; pct <= 100; pct += 25 {
		yy := p.bottom - float64(pct)/100*(p.bottom-p.top)
		gridLine(b, p, yy)
		text(b, int(p.left)-6, int(yy)+4, "end", "11", "normal", fmt.Sprintf("%d%%", pct))
	}
	axes(b, p)
	text(b, int(p.midX()), int(p.bottom)+42, "middle", "11", "normal", "local capacity, % of sessions (one node)")
	text(b, int(p.midX()), int(p.bottom)+58, "middle", "11", "normal",
		fmt.Sprintf("local TTL %gs: a session must recur within it to hit", r.Config.LocalTTLSeconds))
	if len(r.Sweep) == 0 {
		text(b, int(p.midX()), int(p.midY()), "middle", "12", "normal", "no capacity sweep in this run")
		return
	}
	step := (p.right - p.left) / float64(len(r.Sweep))
	x := func(i int) float64 { return p.left + step*(float64(i)+0.5) }
	y := func(v float64) float64 { return p.bottom - v*(p.bottom-p.top) }
	for i, pt := range r.Sweep {
		text(b, int(x(i)), int(p.bottom)+18, "middle", "11", "normal", formatPercent(pt.Fraction))
	}
	// The legend sits in the plot's lower right corner, which the lines
	// leave empty: the hit ratio grows with the capacity.
	drawn := 0
	for _, s := range sweepLines {
		if slices.ContainsFunc(r.Sweep, func(pt SweepPoint) bool { return s.value(pt) != nil }) {
			drawn++
		}
	}
	if drawn > 1 {
		fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="152" height="%d" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`+"\n",
			p.right-158, p.bottom-24-float64(16*(drawn-1)), 20+16*(drawn-1))
	}
	legend := 0
	for _, s := range sweepLines {
		var pts []string
		for i, pt := range r.Sweep {
			if v := s.value(pt); v != nil {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(*v)))
			}
		}
		if len(pts) == 0 {
			continue // not simulated in this run
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="5,3"`
		}
		fmt.Fprintf(b, `<polyline class="%s" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", s.class, strings.Join(pts, " "), s.color, dash)
		for i, pt := range r.Sweep {
			v := s.value(pt)
			if v == nil {
				continue
			}
			title := fmt.Sprintf("%s, capacity %d: hit ratio %.1f%%", s.name, pt.Capacity, 100**v)
			if legend == 0 {
				title += fmt.Sprintf(", %.0f remote reads per 1000 requests", pt.RemoteReadsPer1000)
			}
			fmt.Fprintf(b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%d" fill="%s"><title>%s</title></circle>`+"\n",
				s.class, x(i), y(*v), 4-legend, s.color, html.EscapeString(title))
			if legend == 0 {
				// Below the point: the simulated lines run above it.
				text(b, int(x(i)), int(y(*v))+17, "middle", "11", "normal", fmt.Sprintf("%.1f%%", 100**v))
			}
		}
		if drawn > 1 {
			lx, ly := int(p.right)-152, int(p.bottom)-10-16*(drawn-1-legend)
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly-4, lx+18, ly-4, s.color, dash)
			text(b, lx+24, ly, "start", "11", "normal", s.name)
		}
		legend++
	}
}

// gridLine draws a horizontal grid line across p at y.
func gridLine(b *strings.Builder, p panel, y float64) {
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#dddddd"/>`+"\n", p.left, y, p.right, y)
}

// axes draws the x and y axis lines of a panel.
func axes(b *strings.Builder, p panel) {
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333333"/>`+"\n", p.left, p.top, p.left, p.bottom)
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333333"/>`+"\n", p.left, p.bottom, p.right, p.bottom)
}

// text writes one escaped text element.
func text(b *strings.Builder, x, y int, anchor, size, weight, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="%s" font-size="%s" font-weight="%s">%s</text>`+"\n",
		x, y, anchor, size, weight, html.EscapeString(s))
}
