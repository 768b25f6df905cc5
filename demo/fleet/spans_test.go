package fleet

import (
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
)

var (
	traceRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanRe  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// carriesTrace tells whether a line of format f should carry a trace id.
func carriesTrace(l Line) bool {
	switch l.Format {
	case FormatJSON, FormatLogfmt, FormatSyslog5424:
		return true
	case FormatCRI:
		_, rest, _ := strings.Cut(l.Text, " ")
		_, rest, _ = strings.Cut(rest, " ")
		_, content, _ := strings.Cut(rest, " ")
		return strings.HasPrefix(content, "{") // a whole line, or the first part of a split one
	}
	return false
}

// The trace context in Line is the one in the text, and the parse stage
// reads the same ids from it.
func TestTraceContext(t *testing.T) {
	counts := map[string]int{}
	for _, l := range New(Config{Seed: 13, BadHost: "web-1"}).Batch(20_000) {
		if !carriesTrace(l) {
			if l.TraceID != "" || l.SpanID != "" {
				t.Fatalf("%s line has trace context %q/%q: %q", l.Format, l.TraceID, l.SpanID, l.Text)
			}
			continue
		}
		counts[l.Format]++
		if !traceRe.MatchString(l.TraceID) || !spanRe.MatchString(l.SpanID) {
			t.Fatalf("%s line: trace %q span %q", l.Format, l.TraceID, l.SpanID)
		}
		if !strings.Contains(l.Text, l.TraceID) || !strings.Contains(l.Text, l.SpanID) {
			t.Fatalf("ids %s/%s not in the text %q", l.TraceID, l.SpanID, l.Text)
		}
		var f parse.Fields
		switch l.Format {
		case FormatCRI:
			cri, ok := parse.ParseCRI(l.Text)
			if !ok {
				t.Fatalf("not CRI: %q", l.Text)
			}
			if cri.Partial {
				continue // the first part of a split line: parsed once joined
			}
			f = parse.ParseCRIContent(cri)
		case FormatSyslog5424:
			f = parse.ParseLine(l.Text)
			// Structured data stays in labels.
			if f.Format != FormatSyslog5424 || f.Labels["meta@32473.trace_id"] != l.TraceID || f.Labels["meta@32473.span_id"] != l.SpanID {
				t.Fatalf("parse of %q: format %s labels %v", l.Text, f.Format, f.Labels)
			}
			continue
		default:
			f = parse.ParseLine(l.Text)
		}
		if f.ParseError != "" || f.TraceID != l.TraceID || f.SpanID != l.SpanID {
			t.Fatalf("parse of %q: trace %q span %q error %q; want %s/%s", l.Text, f.TraceID, f.SpanID, f.ParseError, l.TraceID, l.SpanID)
		}
	}
	for _, f := range []string{FormatJSON, FormatLogfmt, FormatSyslog5424, FormatCRI} {
		if counts[f] == 0 {
			t.Errorf("no %s line with a trace id", f)
		}
	}
}

var timeoutMs = regexp.MustCompile(`timeout after (\d+) ms to 10\.0\.4\.7:3306`)

func TestSpansFor(t *testing.T) {
	cfg := Config{Seed: 21, BadHost: "web-2"}
	g := New(cfg)
	lines := g.Batch(30_000)
	other := New(cfg) // SpansFor depends on the seed and the line only
	badTimeouts := 0
	for i := len(lines) - 1; i >= 0; i-- { // in reverse: call order does not matter
		l := lines[i]
		ss := g.SpansFor(l)
		if l.TraceID == "" {
			if ss != nil {
				t.Fatalf("line without trace id has spans: %q", l.Text)
			}
			continue
		}
		if !reflect.DeepEqual(ss, other.SpansFor(l)) {
			t.Fatalf("line %d: spans differ between generators of one seed", l.Seq)
		}
		if len(ss) != 2 {
			t.Fatalf("line %d: %d spans", l.Seq, len(ss))
		}
		root, child := ss[0], ss[1]
		for _, s := range ss {
			if s.TraceID != l.TraceID || s.Service != l.Service || s.Host != l.Host || !spanRe.MatchString(s.SpanID) || s.DurationUs <= 0 {
				t.Fatalf("line %d: span %+v", l.Seq, s)
			}
		}
		if root.SpanID != l.SpanID || root.ParentSpanID != nil || child.ParentSpanID == nil || *child.ParentSpanID != root.SpanID || child.SpanID == root.SpanID {
			t.Fatalf("line %d: ids root %+v child %+v", l.Seq, root, child)
		}
		if child.Operation != OpDBQuery || root.Operation == "" || root.Attributes["request_id"] != "req-"+strconv.FormatUint(l.Seq, 10) {
			t.Fatalf("line %d: operations %q %q attrs %v", l.Seq, root.Operation, child.Operation, root.Attributes)
		}
		// Time: the root starts a few ms before the line and ends after it,
		// around its child.
		at := l.Time.UnixMicro()
		if lead := at - root.Start; lead < 1000 || lead > spanLeadMax.Microseconds() || root.Start+root.DurationUs <= at {
			t.Fatalf("line %d at %d: root %d+%d", l.Seq, at, root.Start, root.DurationUs)
		}
		if child.Start <= root.Start || child.Start+child.DurationUs >= root.Start+root.DurationUs {
			t.Fatalf("line %d: child %d+%d outside root %d+%d", l.Seq, child.Start, child.DurationUs, root.Start, root.DurationUs)
		}
		if (root.Status == schemas.SpanError) != (l.Level == schemas.LevelError) {
			t.Fatalf("line %d (%v): root status %v", l.Seq, l.Level, root.Status)
		}
		// The database call: the timeout the line names, or a few ms.
		if m := timeoutMs.FindStringSubmatch(l.Text); m != nil {
			ms, _ := strconv.ParseInt(m[1], 10, 64)
			if child.Status != schemas.SpanError || child.DurationUs < ms*1000 || child.DurationUs > ms*1000+2000 {
				t.Fatalf("line %d reports a %d ms timeout: child %+v", l.Seq, ms, child)
			}
			if l.Host == "web-2" {
				badTimeouts++
			}
		} else if child.Status != schemas.SpanUnset || child.DurationUs > 8000 {
			t.Fatalf("line %d: child %+v", l.Seq, child)
		}
		// HTTP services: the root is the request the line names.
		switch l.Format {
		case FormatJSON, FormatLogfmt:
			if !strings.Contains(l.Text, root.Attributes["url.path"]) || !strings.HasPrefix(root.Operation, root.Attributes["http.request.method"]+" /") {
				t.Fatalf("line %d: root %q %v for %q", l.Seq, root.Operation, root.Attributes, l.Text)
			}
		case FormatSyslog5424:
			if root.Operation != "settlement-batch" && root.Operation != "risk-table-sync" {
				t.Fatalf("line %d: job root %q", l.Seq, root.Operation)
			}
		}
		// What ToOTLP writes, FromOTLP reads back.
		data, err := spans.ToOTLP(ss)
		if err != nil {
			t.Fatal(err)
		}
		back, rejects, err := spans.FromOTLP(data)
		if err != nil || len(rejects) != 0 || !reflect.DeepEqual(back, ss) {
			t.Fatalf("line %d: OTLP round trip %v %v\n%+v\n%+v", l.Seq, err, rejects, back, ss)
		}
	}
	if badTimeouts == 0 {
		t.Error("no bad-host timeout among the traced lines")
	}
	if New(cfg).SpansFor(Line{Seq: 1, Text: "no trace"}) != nil {
		t.Error("a line without trace id has spans")
	}
}

func TestDuplicates(t *testing.T) {
	const n = 60_000
	base := Config{Seed: 17, BadHost: "web-5"}
	plain := New(base).Batch(n)
	for _, l := range plain {
		if l.Duplicate {
			t.Fatal("DuplicateRatio 0 repeated a line")
		}
	}
	for _, ratio := range []float64{0.02, 0.1, 0.5} {
		cfg := base
		cfg.DuplicateRatio = ratio
		g := New(cfg)
		lines := g.Batch(n)
		var originals []Line
		firstAt := map[uint64]int{} // Seq → index of the original
		repeated := map[uint64]bool{}
		for i, l := range lines {
			if !l.Duplicate {
				if _, dup := firstAt[l.Seq]; dup {
					t.Fatalf("ratio %v: Seq %d returned twice as an original", ratio, l.Seq)
				}
				firstAt[l.Seq] = i
				originals = append(originals, l)
				continue
			}
			at, ok := firstAt[l.Seq]
			if !ok || repeated[l.Seq] {
				t.Fatalf("ratio %v: repeat of Seq %d without its original, or twice", ratio, l.Seq)
			}
			repeated[l.Seq] = true
			orig := lines[at]
			l.Duplicate = false
			if l != orig {
				t.Fatalf("ratio %v: repeat differs from its original:\n%+v\n%+v", ratio, l, orig)
			}
			if d := i - at; d < 1 || d > 40 {
				t.Fatalf("ratio %v: Seq %d repeated %d lines later", ratio, l.Seq, d)
			}
			if !reflect.DeepEqual(g.SpansFor(lines[i]), g.SpansFor(orig)) {
				t.Fatalf("ratio %v: repeat has other spans", ratio)
			}
		}
		// The originals are the lines of the same Config without repeats.
		if !reflect.DeepEqual(originals, plain[:len(originals)]) {
			t.Fatalf("ratio %v: the original lines changed", ratio)
		}
		share := float64(len(repeated)) / float64(len(originals))
		if math.Abs(share-ratio) > 0.1*ratio+0.003 {
			t.Errorf("ratio %v: %.4f of lines repeated", ratio, share)
		}
		checkSplitRepeats(t, lines)
	}
}

// checkSplitRepeats: the repeat of a split CRI line is its parts, in order,
// one after another, and no repeat falls between the parts of a line.
func checkSplitRepeats(t *testing.T, lines []Line) {
	t.Helper()
	flag := func(l Line) string {
		f := strings.SplitN(l.Text, " ", 4)
		return f[2]
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.Format != FormatCRI || flag(l) != "P" {
			continue
		}
		if i+2 >= len(lines) {
			break
		}
		p2, f := lines[i+1], lines[i+2]
		if p2.Format != FormatCRI || f.Format != FormatCRI || p2.Source != l.Source || f.Source != l.Source ||
			flag(p2) != "P" || flag(f) != "F" || p2.Duplicate != l.Duplicate || f.Duplicate != l.Duplicate ||
			p2.Seq != l.Seq+1 || f.Seq != l.Seq+2 {
			t.Fatalf("split line broken up at %d: %v %v %v", i, l.Seq, p2.Seq, f.Seq)
		}
		i += 2
	}
}
