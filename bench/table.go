package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as the terminal table: the run's settings,
// one row per system, each system against remote-only, and the capacity
// sweep.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "workload %s (%s), %s keys over %d sessions of %d bytes\n",
		c.Workload, c.WorkloadDescription, c.Distribution, c.Sessions, c.PayloadBytes)
	fmt.Fprintf(&b, "%d concurrent clients, %gs measured per system", c.Concurrency, c.DurationSeconds)
	if c.WarmupSeconds > 0 {
		fmt.Fprintf(&b, " after a warm-up of %gs or more (tiered: until the local tier is full, at most one TTL)", c.WarmupSeconds)
	}
	if c.MaxOps > 0 {
		fmt.Fprintf(&b, " (at most %d ops)", c.MaxOps)
	}
	fmt.Fprintf(&b, "\nlocal tier %d sessions (%g%%) per node, local TTL %gs\n", c.LocalCapacity, 100*c.LocalFraction, c.LocalTTLSeconds)
	fmt.Fprintf(&b, "remote: %s", c.Remote)
	if c.Remote == "memory" {
		fmt.Fprintf(&b, ", latency model %s", c.Latency.Description)
	}
	fmt.Fprintf(&b, "\ncost: a session item is %d B: %g RRU per read, %g WRU per write; $%g per million RRU, $%g per million WRU\n      (%s)\n\n",
		r.Cost.ItemBytes, r.Cost.RRUPerRead, r.Cost.WRUPerWrite, r.Cost.Prices.ReadPerMillion, r.Cost.Prices.WritePerMillion, r.Cost.Prices.Note)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tops/s\tp50\tp90\tp99\tp99.9\thit %\tremote rd/1k\tremote wr/1k\tconflicts\terrors\t$/M ops\t")
	for _, s := range r.Systems {
		hit := "-"
		if s.LocalTier {
			hit = fmt.Sprintf("%.1f", 100*s.HitRatio)
		}
		cost := "n/a"
		if s.CostPerMillionOps != nil {
			cost = fmt.Sprintf("%.4f", *s.CostPerMillionOps)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%d\t%d\t%s\t\n",
			s.Name, formatCount(s.Throughput),
			formatMicros(s.Latency.P50), formatMicros(s.Latency.P90), formatMicros(s.Latency.P99), formatMicros(s.Latency.P999),
			hit, s.RemoteReadsPer1000, s.RemoteWritesPer1000, s.RemoteConflicts, s.Errors, cost)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Systems) > 1 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "vs %s\tthroughput\tp50\tp99\tremote reads\tcost\t\n", r.Systems[0].Name)
		for _, s := range r.Systems[1:] {
			v := s.VsRemoteOnly
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name,
				times(v.Throughput), lower(v.P50), lower(v.P99), change(v.RemoteReads), change(v.Cost))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(r.Sweep) > 0 {
		b.WriteString("\nhit ratio vs local capacity (one tiered node)\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "capacity\tsessions\thit %\tremote rd/1k\tops/s\tp50\tp99\t")
		for _, p := range r.Sweep {
			fmt.Fprintf(tw, "%g%%\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t\n", 100*p.Fraction, p.Capacity, 100*p.HitRatio,
				p.RemoteReadsPer1000, formatCount(p.Throughput), formatMicros(p.P50us), formatMicros(p.P99us))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatMicros prints a latency given in microseconds with a unit that
// keeps three significant digits: 420ns, 12.3µs, 3.12ms, 1.20s.
func formatMicros(us float64) string {
	switch {
	case us < 1:
		return fmt.Sprintf("%.0fns", us*1e3)
	case us < 1e3:
		return sig3(us) + "µs"
	case us < 1e6:
		return sig3(us/1e3) + "ms"
	default:
		return sig3(us/1e6) + "s"
	}
}

// sig3 prints v (>= 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// formatCount prints a rate or count compactly: 950, 17.9k, 1.20M.
func formatCount(v float64) string {
	switch {
	case v < 1e3:
		return fmt.Sprintf("%.0f", v)
	case v < 1e6:
		return sig3(v/1e3) + "k"
	default:
		return sig3(v/1e6) + "M"
	}
}

// times prints a ratio as "4.2×"; "-" when it is undefined.
func times(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmtFactor(*r) + "×"
}

// lower prints a latency ratio (system / baseline) as how many times
// lower (or higher) the system's latency is.
func lower(r *float64) string {
	switch {
	case r == nil:
		return "-"
	case *r == 0:
		return "∞× lower"
	case *r <= 1:
		return fmtFactor(1/(*r)) + "× lower"
	default:
		return fmtFactor(*r) + "× higher"
	}
}

// change prints a ratio as a percentage change: 0.12 is "-88%".
func change(r *float64) string {
	if r == nil {
		return "n/a"
	}
	pct := 100 * (*r - 1)
	if math.Abs(pct) < 0.05 {
		return "0%"
	}
	return fmt.Sprintf("%+.1f%%", pct)
}

// fmtFactor prints a factor with precision suited to its size.
func fmtFactor(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.2f", f)
	}
}
