package parse

import "github.com/logstream/logstream/schemas"

// Masking (package mask): card numbers, and the configured patterns, are
// made unreadable before anything the stage writes holds them: the
// events (message, stack, labels, parse_error), the event id (computed
// over the masked line, so that no hash of a card number is stored
// either), the lines held in parse-table, and the parse stage's dead
// letters. Two lines that differ only in a masked card number, at the
// same millisecond on the same host and source, get the same id and
// dedupe keeps one: the price of storing no derivative of the number.

// maskLine returns s with its sensitive values masked.
func (p *Processor) maskLine(s string) string {
	out, _ := p.cfg.Mask.String(s)
	return out
}

// maskCount returns s masked and how many values were.
func (p *Processor) maskCount(s string) (string, int32) {
	out, n := p.cfg.Mask.String(s)
	return out, int32(n)
}

// maskEvent masks ev's text fields and adds how many values it masked to
// ev.Masked (which may hold those masked before: a held line is stored
// masked, with its count).
func (p *Processor) maskEvent(ev *schemas.LogEvent) {
	var n, k int
	ev.Message, n = p.cfg.Mask.String(ev.Message)
	if ev.Stack != nil {
		s, k2 := p.cfg.Mask.String(*ev.Stack)
		ev.Stack, k = &s, k2
		n += k
	}
	ev.Labels, k = p.cfg.Mask.Labels(ev.Labels)
	n += k
	if ev.ParseError != nil {
		s, k2 := p.cfg.Mask.String(*ev.ParseError)
		ev.ParseError = &s
		n += k2
	}
	ev.Masked += int32(n)
	if ev.Masked > 0 {
		p.stats.Masked.Add(int64(ev.Masked))
	}
}
