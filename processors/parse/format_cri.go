package parse

import (
	"strings"
	"time"
)

// CRILine is one line of a Kubernetes container log as the container
// runtime (CRI) writes it: "<RFC3339Nano time> stdout|stderr F|P <content>".
// The runtime splits long lines: every part but the last carries the flag P
// (Partial), the last one F.
type CRILine struct {
	Time    time.Time // UTC
	Stream  string    // "stdout" or "stderr"
	Partial bool      // flag P: more parts of this line follow
	Content string
}

// ParseCRI reads the CRI envelope of a line. It reports false when the line
// is not a CRI line. It does not look at the content.
func ParseCRI(line string) (CRILine, bool) {
	t, n, st := parseISOPrefix(line)
	if st != isoOK || n >= len(line) || line[n] != ' ' || line[10] != 'T' {
		return CRILine{}, false
	}
	rest := line[n+1:]
	var c CRILine
	switch {
	case strings.HasPrefix(rest, "stdout "):
		c.Stream = "stdout"
	case strings.HasPrefix(rest, "stderr "):
		c.Stream = "stderr"
	default:
		return CRILine{}, false
	}
	rest = rest[7:]
	if len(rest) == 0 {
		return CRILine{}, false
	}
	switch rest[0] {
	case 'F':
	case 'P':
		c.Partial = true
	default:
		return CRILine{}, false
	}
	switch {
	case len(rest) == 1:
	case rest[1] == ' ':
		c.Content = rest[2:]
	default:
		return CRILine{}, false
	}
	c.Time = t
	return c, true
}

// ParseCRIContent parses the content of a (joined) CRI line with the same
// detection as ParseLine, JSON inside CRI being common. The result has
// Format "cri", the inner timestamp when the content has one and the CRI
// time otherwise, and the label stream=stdout|stderr; a partial part also
// gets cri_partial=true. Content that matches no format is a clean CRI
// line whose message is the content.
func ParseCRIContent(c CRILine) (f Fields) {
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				f = Fields{Format: formatCRI, Message: c.Content, Timestamp: c.Time.UTC(), ParseError: errInternal}
			}
		}()
	}
	return criFields(c, false)
}

func criFields(c CRILine, hostOnly bool) Fields {
	f := parseContent(c.Content, hostOnly)
	if hostOnly {
		return f
	}
	inner := f.Format
	if f.Format == formatNone {
		f = Fields{Message: c.Content}
	}
	f.Format, f.Inner = formatCRI, inner
	if f.Timestamp.IsZero() {
		f.Timestamp = c.Time.UTC()
	}
	// The envelope's labels are set whatever the cap: the stage relies on them.
	if f.Labels == nil {
		f.Labels = make(map[string]string, 2)
	}
	if c.Stream != "" {
		f.Labels["stream"] = c.Stream
	}
	if c.Partial {
		f.Labels["cri_partial"] = "true"
	}
	return f
}
