package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as the terminal table: the run's settings
// and systems, what each system saves against remote-only (remote reads,
// cost, p99, throughput: what an operator decides on), latency and
// outcomes, the remote traffic and its DynamoDB bill in columns that add
// up, the capacity sweep, and notes on how to read them.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	c := r.Config
	if !r.Complete {
		fmt.Fprintf(&b, "INCOMPLETE RUN: stopped during %s; below are the %d phases that finished.\n\n",
			orDash(r.StoppedDuring), len(r.Systems)+r.sweepMeasured())
	}
	fmt.Fprintf(&b, "workload %s (%s), %s keys over %d sessions of %d bytes\n",
		c.Workload, c.WorkloadDescription, c.Distribution, c.Sessions, c.PayloadBytes)
	fmt.Fprintf(&b, "%d concurrent clients (closed loop), each system measured for %gs", c.Concurrency, c.DurationSeconds)
	switch {
	case c.WarmupSeconds > 0 && c.Seal != "":
		fmt.Fprintf(&b, " after a warm-up of %gs", c.WarmupSeconds)
	case c.WarmupSeconds > 0:
		fmt.Fprintf(&b, " after a warm-up of %gs or more (tiered: until the local tiers are full, at most one local TTL)", c.WarmupSeconds)
	}
	if c.MaxOps > 0 {
		fmt.Fprintf(&b, " (at most %d ops)", c.MaxOps)
	}
	if c.Seal != "" {
		fmt.Fprintf(&b, "\nsealing comparison: %s\n", c.Seal)
	} else {
		fmt.Fprintf(&b, "\nlocal tier %d sessions (%s) per node, local TTL %gs\n", c.LocalCapacity, formatPercent(c.LocalFraction), c.LocalTTLSeconds)
	}
	fmt.Fprintf(&b, "remote: %s", c.Remote)
	if c.Remote == "memory" {
		fmt.Fprintf(&b, ", latency model %s", c.Latency.Description)
	}
	b.WriteString("\n")
	switch {
	case c.RedisNote != "":
		fmt.Fprintf(&b, "redis: %s\n", c.RedisNote)
	case c.Redis != "":
		fmt.Fprintf(&b, "redis: %s\n", c.Redis)
	}
	if c.Seal != "" {
		fmt.Fprintf(&b, "cost: each request billed by the size of the item as it reaches the remote (sealed); $%g per million RRU, $%g per million WRU\n      (%s)\n",
			r.Cost.Prices.ReadPerMillion, r.Cost.Prices.WritePerMillion, r.Cost.Prices.Note)
	} else {
		fmt.Fprintf(&b, "cost: a session item is %d B: %g RRU per read, %g WRU per write; $%g per million RRU, $%g per million WRU\n      (%s)\n",
			r.Cost.ItemBytes, r.Cost.RRUPerRead, r.Cost.WRUPerWrite, r.Cost.Prices.ReadPerMillion, r.Cost.Prices.WritePerMillion, r.Cost.Prices.Note)
	}

	if len(r.Systems) > 0 {
		b.WriteString("\nsystems\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, s := range r.Systems {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Description)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := r.writeSavings(&b); err != nil {
			return err
		}
		if err := r.writeLatency(&b); err != nil {
			return err
		}
		if err := r.writeTail(&b); err != nil {
			return err
		}
		if err := r.writeBill(&b); err != nil {
			return err
		}
		if c.Seal != "" {
			if err := r.writeSeal(&b); err != nil {
				return err
			}
		}
	}
	if err := r.writeSweep(&b); err != nil {
		return err
	}
	r.writeNotes(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// sweepMeasured counts the sweep points measured by the sweep itself.
func (r *Report) sweepMeasured() int {
	n := 0
	for _, p := range r.Sweep {
		if p.Source == "sweep" {
			n++
		}
	}
	return n
}

// writeSavings prints the summary an operator decides on: per system,
// DynamoDB reads, the bill per million requests, p99 and throughput, each
// against remote-only.
func (r *Report) writeSavings(b *strings.Builder) error {
	base := r.Systems[0]
	fmt.Fprintf(b, "\nwhat each system saves against %s (same run, same requests)\n", base.Name)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tDynamoDB reads/1k req\t$ per million req\tp99\tthroughput\t")
	for i, s := range r.Systems {
		reads, cost := "- (not DynamoDB)", "n/a (not DynamoDB)"
		p99 := formatMicros(s.Latency.P99)
		thr := formatCount(s.Throughput) + " ops/s"
		if s.CostPerMillionOps != nil {
			reads = fmt.Sprintf("%.0f", s.RemoteReadsPer1000)
			cost = fmt.Sprintf("$%.4f", *s.CostPerMillionOps)
		}
		v := s.VsRemoteOnly
		if i == 0 {
			reads += " (baseline)"
			if s.CostPerMillionOps != nil {
				cost += " (baseline)"
			}
		} else {
			if s.CostPerMillionOps != nil {
				reads += " (" + fewer(v.RemoteReads) + ")"
				cost += " (" + change(v.Cost) + ")"
			}
			p99 += " (" + lower(v.P99) + ")"
			thr += " (" + times(v.Throughput) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", s.Name, reads, cost, p99, thr)
	}
	return tw.Flush()
}

// writeLatency prints throughput, latency percentiles, the hit ratio and
// the outcomes per 1000 requests.
func (r *Report) writeLatency(b *strings.Builder) error {
	b.WriteString("\nlatency and outcomes\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tops/s\tp50\tp90\tp99\tp99.9\thit %\tconflicts/1k\terrors/1k\t")
	for _, s := range r.Systems {
		hit := "-"
		if s.LocalTier {
			hit = fmt.Sprintf("%.1f", 100*s.HitRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.Name, formatCount(s.Throughput),
			formatMicros(s.Latency.P50), formatMicros(s.Latency.P90), formatMicros(s.Latency.P99), formatMicros(s.Latency.P999),
			hit, formatPer1000(s.ConflictsPer1000), formatPer1000(s.ErrorsPer1000))
	}
	return tw.Flush()
}

// writeTail prints, per system, the latency of each class of request and
// its part of the system's slowest 1%, and what the GC did meanwhile.
func (r *Report) writeTail(b *strings.Builder) error {
	if !slices.ContainsFunc(r.Systems, func(s SystemResult) bool { return len(s.LatencyByOp) > 0 }) {
		return nil
	}
	b.WriteString("\nlatency by request type: which requests make each system's p99\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\trequest\tshare\tp50\tp99\tp99.9\tmax\tof slowest 1%\t")
	for _, s := range r.Systems {
		name := s.Name
		for _, l := range s.LatencyByOp {
			fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%s\t%s\t%s\t%s\t%.1f%%\t\n", name, classLabel(l.Class), 100*l.Share,
				formatMicros(l.P50), formatMicros(l.P99), formatMicros(l.P999), formatMicros(l.Max), 100*l.TailShare)
			name = ""
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\ngarbage collection during each measured window (whole process)\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tGC cycles\tpauses, total\tlongest pause\tGC CPU\tp99\t")
	for _, s := range r.Systems {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1f%%\t%s\t\n", s.Name, s.GC.Cycles, formatMicros(s.GC.PauseTotalUs),
			formatMicros(s.GC.PauseMaxUs), 100*s.GC.CPUFraction, formatMicros(s.Latency.P99))
	}
	return tw.Flush()
}

// classLabel is the table's name for a request class of the report.
func classLabel(class string) string {
	if i := slices.Index(classNames[:], class); i >= 0 {
		return classLabels[i]
	}
	return class
}

// writeBill prints the remote requests per 1000 requests and what
// DynamoDB bills for them, in columns that add up: RRU = reads × RRU per
// read, WRU = writes × WRU per write, $ = units × price, total = reads'
// $ + writes' $.
func (r *Report) writeBill(b *strings.Builder) error {
	b.WriteString("\nremote requests per 1000 requests, and the DynamoDB bill per million requests\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\treads/1k\twrites/1k\tof which refused\tRRU/1k\tWRU/1k\t$ reads\t$ writes\t$ total\t")
	for _, s := range r.Systems {
		row := []string{s.Name, fmt.Sprintf("%.1f", s.RemoteReadsPer1000), fmt.Sprintf("%.1f", s.RemoteWritesPer1000),
			fmt.Sprintf("%.1f", s.RemoteRefusedWritesPer1000)}
		if s.Bill != nil {
			row = append(row, fmt.Sprintf("%.1f", s.Bill.RRU/1000), fmt.Sprintf("%.1f", s.Bill.WRU/1000),
				fmt.Sprintf("%.4f", s.Bill.ReadUSD), fmt.Sprintf("%.4f", s.Bill.WriteUSD), fmt.Sprintf("%.4f", s.Bill.USD()))
		} else {
			row = append(row, "-", "-", "-", "-", "n/a")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

// writeSeal prints the sealing comparison: per system, the mean size of
// the items at the remote and the request units and dollars of a million
// requests, against the first system.
func (r *Report) writeSeal(b *strings.Builder) error {
	base := r.Systems[0]
	fmt.Fprintf(b, "\nsealing: item size at the remote and the DynamoDB bill per million requests, against %s\n", base.Name)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tavg item\tRRU per M req\tWRU per M req\t$ reads\t$ writes\t$ total\tvs first\t")
	for i, s := range r.Systems {
		if s.Bill == nil {
			continue
		}
		vs := "(baseline)"
		if i > 0 {
			vs = change(s.VsRemoteOnly.Cost)
		}
		fmt.Fprintf(tw, "%s\t%.0f B\t%s\t%s\t$%.4f\t$%.4f\t$%.4f\t%s\t\n", s.Name, s.AvgItemBytes,
			formatCount(s.Bill.RRU), formatCount(s.Bill.WRU), s.Bill.ReadUSD, s.Bill.WriteUSD, s.Bill.USD(), vs)
	}
	return tw.Flush()
}

// writeSweep prints the capacity sweep.
func (r *Report) writeSweep(b *strings.Builder) error {
	if len(r.Sweep) == 0 {
		return nil
	}
	b.WriteString("\nhit ratio vs local capacity (one tiered node), beside exact LRU and W-TinyLFU on the same requests\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "capacity\tsessions\thit %\texact LRU %\tW-TinyLFU %\tremote rd/1k\tops/s\tp50\tp99\t")
	pct := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", 100**v)
	}
	for _, p := range r.Sweep {
		mark := ""
		if p.Source != "sweep" {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s%s\t%d\t%.1f\t%s\t%s\t%.1f\t%s\t%s\t%s\t\n", formatPercent(p.Fraction), mark, p.Capacity, 100*p.HitRatio,
			pct(p.SimLRUHitRatio), pct(p.SimTinyLFUHitRatio),
			p.RemoteReadsPer1000, formatCount(p.Throughput), formatMicros(p.P50us), formatMicros(p.P99us))
	}
	return tw.Flush()
}

// writeNotes explains the columns that need it.
func (r *Report) writeNotes(b *strings.Builder) {
	var notes []string
	if len(r.Systems) > 0 && r.Config.Seal != "" {
		notes = append(notes, fmt.Sprintf("sealing: every request is billed by the size of its own item as stored (key, payload "+
			"as sealed, and about %d bytes of attributes), measured between the seal and the remote: RRU per started 4 KB "+
			"read (half for an eventually consistent read), WRU per started 1 KB written, a write by the larger of the item "+
			"before and after, a refused one by the item stored. avg item is the mean size of the items read and written. "+
			"Compression pays where it takes an item under a 1 KB (write) or 4 KB (read) step.", ItemSize(0, 0)))
	} else if len(r.Systems) > 0 {
		cm := r.Cost
		notes = append(notes,
			fmt.Sprintf("bill: writes/1k counts every conditional write sent, including those refused by their version check: DynamoDB bills "+
				"a refused write like one that succeeds, sized by the item already stored (%g WRU here; 1 WRU when there is none). "+
				"RRU/1k = reads/1k × %g (a strongly consistent reload after a conflict: × %g); WRU/1k = writes/1k × %g; "+
				"$ reads = RRU/1k × $%g ÷ 1000, $ writes = WRU/1k × $%g ÷ 1000, per million requests; $ total = $ reads + $ writes.",
				cm.WRUPerWrite, cm.RRUPerRead, cm.RRUPerConsistentRead, cm.WRUPerWrite, cm.Prices.ReadPerMillion, cm.Prices.WritePerMillion),
			"conflicts/1k: requests whose version-checked write was refused because another client wrote the same session "+
				"between this request's read and its write. Nothing is lost: the version check refuses the stale write; an update "+
				"counts it and moves on (as YCSB does), a read-modify-write retries. Conflicts follow throughput: the more requests "+
				"a system answers per second, the more writes to the hottest sessions overlap. With several nodes, a copy the bus "+
				"has not invalidated yet adds a few.",
		)
		for _, s := range r.Systems {
			if s.Bill == nil {
				notes = append(notes, fmt.Sprintf("%s: its reads and writes are Redis commands; Redis is paid per node-hour, not per request.", s.Name))
				break
			}
		}
	}
	if slices.ContainsFunc(r.Systems, func(s SystemResult) bool { return len(s.LatencyByOp) > 0 }) {
		notes = append(notes, "latency by request type: each recorded request in one class. A read is a local hit, a remote "+
			"read (its own: every read of remote-only and redis, the miss that led the shared load in a tiered system), or a "+
			"shared load (a miss that waited for another request's load of the same key: a singleflight follower); a write "+
			"is the whole request, its read included. \"of slowest 1%\" is the class's part of the requests at or above the "+
			"system's p99: the class with the largest part makes the p99. Class percentiles are to two significant digits.")
	}
	for _, p := range r.Sweep {
		if p.Source != "sweep" {
			notes = append(notes, fmt.Sprintf("* capacity %s is %s's own measurement, not measured again.", formatPercent(p.Fraction), p.Source))
		}
	}
	if r.SweepSimulation != "" {
		notes = append(notes, fmt.Sprintf("exact LRU %% and W-TinyLFU %%: %s. The local tier's hit %% also pays its TTL "+
			"(%gs: a session is read from the remote again once its copy is that old), which the simulations do not.",
			r.SweepSimulation, r.Config.LocalTTLSeconds))
	}
	if len(notes) == 0 {
		return
	}
	b.WriteString("\nnotes\n")
	for _, n := range notes {
		b.WriteString(wrap(n, "  ", 100))
	}
}

// wrap breaks s into lines of at most width bytes (a longer word gets a
// line of its own): the first starts with indent, the others with indent
// and two more spaces. Every line ends with a newline.
func wrap(s, indent string, width int) string {
	var b strings.Builder
	line, empty := indent, true
	for _, word := range strings.Fields(s) {
		if !empty && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line, empty = indent+"  ", true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatPercent prints a fraction as a percentage with three significant
// digits at most and no exponent: 0.1 is "10%", 0.125 "12.5%", 1e-6
// "0.0001%".
func formatPercent(f float64) string {
	v := 100 * f
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64) + "%"
	}
	decimals := max(0, min(12, 2-int(math.Floor(math.Log10(math.Abs(v))))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + "%"
}

// formatPer1000 prints a rate per 1000 operations: two decimals below 10,
// one above.
func formatPer1000(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
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

// change prints a ratio as a percentage change: 0.12 is "-88.0%".
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

// fewer prints a ratio of counts as how many fewer: 0.26 is "74.0%
// fewer", 1.1 "10.0% more".
func fewer(r *float64) string {
	switch {
	case r == nil:
		return "n/a"
	case math.Abs(*r-1) < 0.0005:
		return "same"
	case *r < 1:
		return fmt.Sprintf("%.1f%% fewer", 100*(1-*r))
	default:
		return fmt.Sprintf("%.1f%% more", 100*(*r-1))
	}
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
