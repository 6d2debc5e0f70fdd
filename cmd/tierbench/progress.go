package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tiersession/tiersession/bench"
)

// barWidth is the width of the bar itself, in cells.
const barWidth = 30

// progressView shows a run's progress: on a terminal, one bar redrawn in
// place; otherwise one plain line per finished phase, so logs stay
// readable.
type progressView struct {
	w        io.Writer
	terminal bool
	started  time.Time
	phase    time.Time
	lastStep int
}

// newProgressView writes to f, drawing a bar when f is a terminal.
func newProgressView(f *os.File) *progressView {
	return &progressView{w: f, terminal: isTerminal(f), started: time.Now()}
}

// isTerminal reports whether f is a character device other than a dumb
// terminal. The standard library's file mode is enough here: the only
// other character devices one redirects to, like /dev/null, discard
// what they get anyway.
func isTerminal(f *os.File) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update is the bench.Config.Progress callback.
func (v *progressView) update(p bench.Progress) {
	if p.Step != v.lastStep {
		v.lastStep, v.phase = p.Step, time.Now()
	}
	head := fmt.Sprintf("[%d/%d] %-12s", p.Step, p.Steps, p.Phase)
	if p.Finished {
		line := fmt.Sprintf("%s %s (%.1fs)", head, p.Summary, time.Since(v.phase).Seconds())
		if v.terminal {
			fmt.Fprintf(v.w, "\r\x1b[K%s\n", line)
		} else {
			fmt.Fprintln(v.w, line)
		}
		return
	}
	if !v.terminal {
		return
	}
	fmt.Fprintf(v.w, "\r\x1b[K%s %s %3.0f%%  %s ops  %s elapsed", head, bar(p.Done), 100*p.Done,
		compact(p.Ops), time.Since(v.started).Truncate(time.Second))
}

// interrupted ends a bar left half drawn, so that what follows starts on
// a line of its own.
func (v *progressView) interrupted() {
	if v.terminal && v.lastStep > 0 {
		fmt.Fprintln(v.w)
	}
}

// bar draws a fraction in [0, 1] as a bar of barWidth cells.
func bar(done float64) string {
	done = min(max(done, 0), 1)
	full := int(done * barWidth)
	return "[" + strings.Repeat("█", full) + strings.Repeat("·", barWidth-full) + "]"
}

// compact prints a count as 950, 12.3k or 1.23M.
func compact(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	}
}
