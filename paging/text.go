package paging

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logstream/logstream/schemas"
)

// How much of an alert's detail the texts for people carry.
const (
	maxSignatures = 5
	maxSamples    = 5
	maxExample    = 200 // runes of one example message
)

// alertSummary is the one line a pager shows: the alerter's summary, or
// one made from the alert's fields when it has none.
func alertSummary(a *schemas.Alert) string {
	s := a.Summary
	if s == "" {
		who := a.Host
		if who == "" {
			who = a.Scope
		}
		s = fmt.Sprintf("%s %s: error rate %s (fleet median %s)", who, a.Rule, percent(a.Rate), percent(a.FleetRate))
	}
	if a.State == schemas.AlertResolved && !strings.HasPrefix(s, "RESOLVED") {
		s = "RESOLVED: " + s
	}
	return s
}

// describe renders an alert's evidence for people: the numbers, the top
// error signatures, and sample traces with the span each was joined with
// (the slow downstream call).
func describe(a *schemas.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (scope %s, rule %s)\n", a.State, hostOrFleet(a), a.Scope, a.Rule)
	fmt.Fprintf(&b, "error rate %s, fleet median %s", percent(a.Rate), percent(a.FleetRate))
	if a.BurnRate != nil {
		fmt.Fprintf(&b, ", burn rate %.1f", *a.BurnRate)
	}
	fmt.Fprintf(&b, "; %d errors in %d events", a.Errors, a.Events)
	if a.WindowStart > 0 && a.WindowEnd > 0 {
		fmt.Fprintf(&b, " from %s to %s", rfc3339(time.UnixMilli(a.WindowStart)), rfc3339(time.UnixMilli(a.WindowEnd)))
	}
	b.WriteString("\n")
	if a.FirstSeen > 0 {
		fmt.Fprintf(&b, "first seen %s\n", rfc3339(time.UnixMilli(a.FirstSeen)))
	}
	if len(a.Signatures) > 0 {
		b.WriteString("top error signatures:\n")
		for _, s := range a.Signatures[:min(len(a.Signatures), maxSignatures)] {
			fmt.Fprintf(&b, "  %d× %s\n", s.Count, s.Signature)
			if s.Example != "" && s.Example != s.Signature {
				fmt.Fprintf(&b, "     e.g. %s\n", truncate(s.Example, maxExample))
			}
		}
	}
	if len(a.Samples) > 0 {
		b.WriteString("sample traces:\n")
		for _, s := range a.Samples[:min(len(a.Samples), maxSamples)] {
			fmt.Fprintf(&b, "  trace %s", s.TraceID)
			if s.SpanService != "" || s.SpanOperation != "" {
				fmt.Fprintf(&b, ": span %s %s", s.SpanService, s.SpanOperation)
			}
			if s.SpanDurationUs != nil {
				fmt.Fprintf(&b, " took %s", (time.Duration(*s.SpanDurationUs) * time.Microsecond).String())
			}
			if s.Message != "" {
				fmt.Fprintf(&b, " — %s", truncate(s.Message, maxExample))
			}
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func hostOrFleet(a *schemas.Alert) string {
	if a.Host != "" {
		return a.Host
	}
	return "fleet"
}

func percent(r float64) string { return fmt.Sprintf("%.1f%%", r*100) }

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
