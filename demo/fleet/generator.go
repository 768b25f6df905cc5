package fleet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/logstream/logstream/schemas"
)

// Line formats, named as the parse stage names them in LogEvent.format.
const (
	FormatJSON       = "json"
	FormatLogfmt     = "logfmt"
	FormatCRI        = "cri"
	FormatCombined   = "combined" // nginx combined access log + request time
	FormatALB        = "alb"
	FormatSyslog3164 = "syslog3164"
	FormatSyslog5424 = "syslog5424"
	FormatJava       = "java" // logback
	// FormatNone is the Format of garbage lines (Config.GarbageRatio); it is
	// not a value for Config.Formats.
	FormatNone = "none"
)

// Formats returns the line formats Config.Formats accepts, in a fixed order.
func Formats() []string {
	out := make([]string, len(formatWeights))
	for i, fw := range formatWeights {
		out[i] = fw.format
	}
	return out
}

// formatWeights is the fleet's mix: mostly access logs, then application
// logs, a little syslog.
var formatWeights = []struct {
	format string
	weight float64
}{
	{FormatCombined, 28},
	{FormatALB, 14},
	{FormatJSON, 16},
	{FormatLogfmt, 12},
	{FormatCRI, 12},
	{FormatJava, 9},
	{FormatSyslog3164, 5},
	{FormatSyslog5424, 4},
}

// Defaults for the zero values of Config.
var (
	DefaultHosts        = []string{"web-1", "web-2", "web-3", "web-4", "web-5"}
	DefaultStart        = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	DefaultGarbageRatio = 0.01
	DefaultInterval     = time.Millisecond
)

// Shares of WARN and ERROR lines, and the ERROR share of Config.BadHost.
const (
	WarnRatio       = 0.04
	ErrorRatio      = 0.012
	BadHostErrRatio = 0.20
)

// CRIPartBytes is the content size of a CRI partial (P) line: containerd
// splits lines longer than 16 KiB.
const CRIPartBytes = 16 << 10

// criSplitRatio is the share of CRI lines written as P, P, F parts.
const criSplitRatio = 0.03

// Config configures a Generator.
type Config struct {
	// Seed makes the output reproducible: one Config, one sequence of lines.
	Seed uint64
	// Hosts of the fleet; nil means DefaultHosts (web-1 … web-5).
	Hosts []string
	// Start is the event time of the first line; zero means DefaultStart.
	Start time.Time
	// BadHost, when set, names the host whose database connection fails:
	// about BadHostErrRatio of its lines are failures. A name not in Hosts
	// has no effect.
	BadHost string
	// GarbageRatio is the share of lines that match no format; 0 means
	// DefaultGarbageRatio, a negative value means none.
	GarbageRatio float64
	// Formats restricts the line formats (see Formats); nil means all. An
	// unknown name makes New panic.
	Formats []string
	// Interval is the mean event-time gap between consecutive lines of the
	// fleet (exponentially distributed); 0 means DefaultInterval.
	Interval time.Duration
	// DuplicateRatio is the share of lines the generator returns twice, as a
	// shipper that retries a batch does: the repeat is the same Line, with
	// Duplicate set, returned a few lines later (a CRI line split in parts
	// is repeated whole, its parts consecutive). 0 or less means none; the
	// other lines are the same whatever the ratio.
	DuplicateRatio float64
	// Incidents make a host bad for a span of event time, as BadHost does
	// for the whole run: the demo's web-3 times out its database calls for
	// a few minutes, then recovers.
	Incidents []Incident
}

// Incident is a span of event time [From, To) during which Host fails
// about BadHostErrRatio of its lines with the database timeout.
type Incident struct {
	Host     string
	From, To time.Time
}

// Line is one generated log line.
type Line struct {
	Host   string // host that wrote the line (for ALB lines: the target host)
	Source string // file path the line was read from, or "stdin"
	Text   string // the line, without newline; contains "req-<Seq>" once
	Format string // one of the Format constants
	Seq    uint64 // 1, 2, 3, … per Generator
	// Time is the event time; the text carries it at its format's
	// precision (seconds for nginx and RFC 3164).
	Time time.Time
	// Level is the severity the line expresses: its level field, its
	// syslog severity, or for access logs its status (5xx ERROR, 4xx WARN,
	// else INFO). LevelUnknown for garbage.
	Level schemas.Level
	// Service is the program that wrote the line ("" for garbage).
	Service string
	// TraceID and SpanID are the trace context the text carries (32 and 16
	// lowercase hex digits, as written there), or "" when it carries none:
	// JSON lines (trace_id and span_id, or traceparent), CRI lines (in their
	// JSON content; of a split line only the first part carries them),
	// logfmt and RFC 5424 lines. SpansFor gives the spans of that trace.
	TraceID string
	SpanID  string
	// Duplicate marks the repeat of a line (Config.DuplicateRatio); all its
	// other fields are its original's.
	Duplicate bool

	req request // what SpansFor needs to know about the request
}

// Generator produces Lines. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	now     time.Time
	seq     uint64
	garbage float64
	hosts   []host
	formats []string
	cum     []float64 // cumulative weights of formats
	queue   []Line    // CRI parts waiting to be returned
	b       []byte
	albSrc  string
	albWin  time.Time

	// ids draws the span ids written into logfmt and RFC 5424 lines, apart
	// from rng so that the other lines do not change with them.
	ids *rand.Rand
	// The line being built: its request, and where its text holds its
	// trace and span ids (0 when it holds none).
	cur             request
	traceAt, spanAt int
	curBad          bool // the line's host is bad (BadHost or an incident)
	// Duplicates (Config.DuplicateRatio), drawn from their own source.
	dup     *rand.Rand
	out     uint64   // lines returned by Next
	pending []repeat // repeats waiting for their turn
	replay  []Line   // the rest of a repeat being returned
}

// repeat is a line (or the parts of a split CRI line) to return again once
// Next has returned due lines.
type repeat struct {
	due   uint64
	lines []Line
}

type host struct {
	name      string
	ip        string
	bad       bool
	pods      [2]pod
	workerPID int
	sshdPID   int
	cronPID   int
}

type pod struct {
	svc    *service
	source string
}

// New returns a generator for cfg. It panics on an unknown format name.
func New(cfg Config) *Generator {
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = DefaultHosts
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	g := &Generator{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now: cfg.Start,
		ids: rand.New(rand.NewPCG(cfg.Seed^0x5bd1e9955bd1e995, cfg.Seed+1)),
		dup: rand.New(rand.NewPCG(cfg.Seed^0xc2b2ae3d27d4eb4f, cfg.Seed+2)),
	}
	switch {
	case cfg.GarbageRatio == 0:
		g.garbage = DefaultGarbageRatio
	case cfg.GarbageRatio > 0:
		g.garbage = min(cfg.GarbageRatio, 1)
	}
	total := 0.0
	for _, fw := range formatWeights {
		if len(cfg.Formats) > 0 && !slices.Contains(cfg.Formats, fw.format) {
			continue
		}
		total += fw.weight
		g.formats = append(g.formats, fw.format)
		g.cum = append(g.cum, total)
	}
	for _, f := range cfg.Formats {
		if !slices.Contains(g.formats, f) {
			panic(fmt.Sprintf("fleet: unknown format %q (known: %v)", f, Formats()))
		}
	}
	for i, name := range cfg.Hosts {
		h := host{
			name:      name,
			ip:        "10.0.1." + strconv.Itoa(11+i%240),
			bad:       name == cfg.BadHost,
			workerPID: 700 + g.rng.IntN(300),
			sshdPID:   1000 + g.rng.IntN(30000),
			cronPID:   1000 + g.rng.IntN(30000),
		}
		for j, svc := range []*service{&fraudScorer, &cardVault} {
			h.pods[j] = pod{svc: svc, source: g.podSource(svc)}
		}
		g.hosts = append(g.hosts, h)
	}
	return g
}

// podSource is the kubelet's symlink for a container's log:
// /var/log/containers/<pod>_<namespace>_<container>-<container id>.log.
func (g *Generator) podSource(svc *service) string {
	const alnum = "bcdfghjklmnpqrstvwxz2456789" // the alphabet of generated pod names
	b := []byte("/var/log/containers/" + svc.name + "-")
	for range 10 {
		b = append(b, alnum[g.rng.IntN(len(alnum))])
	}
	b = append(b, '-')
	for range 5 {
		b = append(b, alnum[g.rng.IntN(len(alnum))])
	}
	b = append(b, "_payments_"...)
	b = append(b, svc.container...)
	b = append(b, '-')
	b = g.appendRandHex(b, 64)
	b = append(b, ".log"...)
	return string(b)
}

// Next returns the next line.
func (g *Generator) Next() Line {
	if g.cfg.DuplicateRatio <= 0 {
		return g.next()
	}
	g.out++
	if len(g.replay) > 0 {
		l := g.replay[0]
		g.replay = g.replay[1:]
		return l
	}
	if len(g.queue) == 0 { // never inside the parts of a split line
		if l, ok := g.takeRepeat(); ok {
			return l
		}
	}
	fresh := len(g.queue) == 0
	l := g.next()
	if fresh && g.dup.Float64() < g.cfg.DuplicateRatio {
		lines := make([]Line, 0, 1+len(g.queue))
		lines = append(append(lines, l), g.queue...) // a split line is repeated whole
		for i := range lines {
			lines[i].Duplicate = true
		}
		g.pending = append(g.pending, repeat{due: g.out + uint64(len(g.queue)+1+g.dup.IntN(8)), lines: lines})
	}
	return l
}

// takeRepeat returns the first line of the earliest due repeat, if one is due.
func (g *Generator) takeRepeat() (Line, bool) {
	best := -1
	for i, r := range g.pending {
		if r.due <= g.out && (best < 0 || r.due < g.pending[best].due) {
			best = i
		}
	}
	if best < 0 {
		return Line{}, false
	}
	r := g.pending[best]
	g.pending = slices.Delete(g.pending, best, best+1)
	g.replay = r.lines[1:]
	return r.lines[0], true
}

// next returns the next original line.
func (g *Generator) next() Line {
	if len(g.queue) > 0 {
		l := g.queue[0]
		g.queue = g.queue[1:]
		return l
	}
	g.now = g.now.Add(time.Duration(g.rng.ExpFloat64() * float64(g.cfg.Interval)))
	g.seq++
	h := &g.hosts[g.rng.IntN(len(g.hosts))]
	l := Line{Host: h.name, Seq: g.seq, Time: g.now}
	g.b = g.b[:0]
	if g.garbage > 0 && g.rng.Float64() < g.garbage {
		g.garbageLine(&l)
		return l
	}
	g.cur, g.traceAt, g.spanAt = request{}, 0, 0
	g.curBad = h.bad || g.inIncident(h.name, g.now)
	s := g.severity(h)
	switch g.pickFormat() {
	case FormatJSON:
		g.jsonLine(&l, h, s)
	case FormatLogfmt:
		g.logfmtLine(&l, h, s)
	case FormatCRI:
		g.criLine(&l, h, s)
	case FormatCombined:
		g.combinedLine(&l, h, s)
	case FormatALB:
		g.albLine(&l, h, s)
	case FormatSyslog3164:
		g.syslog3164Line(&l, h, s)
	case FormatSyslog5424:
		g.syslog5424Line(&l, h, s)
	case FormatJava:
		g.javaLine(&l, h, s)
	}
	if g.traceAt > 0 { // no line starts with its trace id
		l.TraceID, l.SpanID, l.req = l.Text[g.traceAt:g.traceAt+32], l.Text[g.spanAt:g.spanAt+16], g.cur
	}
	return l
}

// Batch returns the next n lines.
func (g *Generator) Batch(n int) []Line {
	out := make([]Line, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func (g *Generator) pickFormat() string {
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	for i, c := range g.cum {
		if x < c {
			return g.formats[i]
		}
	}
	return g.formats[len(g.formats)-1]
}

// sev is what a line reports: normal operation, a warning (4xx), a failure (5xx).
type sev uint8

const (
	sevInfo sev = iota
	sevWarn
	sevFail
)

func (s sev) level() schemas.Level {
	switch s {
	case sevWarn:
		return schemas.LevelWarn
	case sevFail:
		return schemas.LevelError
	}
	return schemas.LevelInfo
}

// inIncident reports whether host is in one of the incidents at t.
func (g *Generator) inIncident(host string, t time.Time) bool {
	for _, in := range g.cfg.Incidents {
		if in.Host == host && !t.Before(in.From) && t.Before(in.To) {
			return true
		}
	}
	return false
}

func (g *Generator) severity(_ *host) sev {
	fail := ErrorRatio
	if g.curBad {
		fail = BadHostErrRatio
	}
	switch p := g.rng.Float64(); {
	case p < fail:
		return sevFail
	case p < fail+WarnRatio:
		return sevWarn
	}
	return sevInfo
}

// dbTimeout reports whether a failure is the database timeout: always on
// the bad host, for a third of the failures elsewhere.
func (g *Generator) dbTimeout(_ *host) bool { return g.curBad || g.rng.IntN(3) == 0 }

// appendTimeout appends "timeout after 3012 ms to 10.0.4.7:3306".
func (g *Generator) appendTimeout(b []byte) []byte {
	ms := 3000 + g.rng.IntN(60)
	g.cur.timeoutMs = ms
	b = append(b, "timeout after "...)
	b = strconv.AppendInt(b, int64(ms), 10)
	return append(b, " ms to 10.0.4.7:3306"...)
}

// --- small helpers ---

const hexDigits = "0123456789abcdef"

func (g *Generator) appendRandHex(b []byte, n int) []byte {
	for n > 0 {
		v := g.rng.Uint64()
		for i := 0; i < 16 && n > 0; i++ {
			b = append(b, hexDigits[v&15])
			v >>= 4
			n--
		}
	}
	return b
}

// appendIDHex appends n hex digits drawn from the ids source.
func (g *Generator) appendIDHex(b []byte, n int) []byte {
	for n > 0 {
		v := g.ids.Uint64()
		for i := 0; i < 16 && n > 0; i++ {
			b = append(b, hexDigits[v&15])
			v >>= 4
			n--
		}
	}
	return b
}

func appendSeq(b []byte, seq uint64) []byte {
	b = append(b, "req-"...)
	return strconv.AppendUint(b, seq, 10)
}

func pick[T any](g *Generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

func appendFixed(b []byte, f float64, prec int) []byte {
	return strconv.AppendFloat(b, f, 'f', prec, 64)
}
