package parse

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/parse/mask"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/watermark"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "parse"

// DefaultMaxPartialBytes bounds one joined CRI line.
const DefaultMaxPartialBytes = 1 << 20

// DefaultMaxFuture is Config.MaxFuture's default.
const DefaultMaxFuture = time.Hour

// Config wires the stage. Topic names and the partitioner come from
// topology/; the stage never spells them itself.
type Config struct {
	Events      goka.Stream // output of LogEvents
	DeadLetters goka.Stream // output of DeadLetters
	// Loop is the stage's loop topic, for records whose key belongs to
	// another partition (rehome.go); "" keeps no state for them: their
	// lines are emitted as they come.
	Loop goka.Stream
	// PartitionOf tells which partition of the input a key belongs to, so
	// that the stage keeps state only for keys read where their state lives.
	PartitionOf func(key []byte) int32
	// RawLogs decodes Avro RawLog values; Encode writes the LogEvents.
	RawLogs *codecs.Codec[schemas.RawLog]
	Encode  *codecs.Codec[schemas.LogEvent]
	// Origins, when set, stamps every event with its input partition's
	// event-time progress and fans the stamp out to the output partitions
	// that have not heard it (package watermark); KeyFor names a key of
	// an output partition, for those watermark records.
	Origins *watermark.Origins
	// Direct, when Ready, writes the events without ctx.Emit (see
	// broker.Direct).
	Direct *broker.Direct
	KeyFor func(partition int32) string
	// MaxFuture: an event further ahead of the wall clock does not move
	// its partition's event time (a clock gone wrong must not close every
	// window at once); 0 means DefaultMaxFuture.
	MaxFuture time.Duration
	// MaxPartialBytes bounds a joined CRI line; 0 means DefaultMaxPartialBytes.
	MaxPartialBytes int
	// Now is the clock for dead-letter times; nil means time.Now.
	Now func() time.Time
	// Cluster fills LogEvent.cluster when the line's labels name none.
	Cluster string
	// HoldIdle is how long (wall clock) a held CRI partial line or
	// multi-line event waits for its next line before a sweep emits it as
	// it stands; 0 means DefaultHoldIdle. Keep it below the watermark's
	// idle timeout: an idle input partition stops holding event time back,
	// and what it still holds would come late downstream.
	HoldIdle time.Duration
	// MaxStackLines and MaxStackBytes bound the continuation lines joined
	// to one event; 0 means DefaultMaxStackLines, DefaultMaxStackBytes.
	MaxStackLines int
	MaxStackBytes int
	// Registry, when set, is told when each key of the group table has
	// work (state.Registry), for the sweeper that emits what waited
	// HoldIdle; State decodes stored values for it (DueOf).
	Registry *state.Registry
	State    *codecs.Codec[schemas.ParseState]
	// Mask makes sensitive values in each event unreadable before it is
	// written (PCI DSS wants card numbers unreadable wherever stored):
	// card numbers always, so nil masks those only, and the patterns it
	// was built with (package mask).
	Mask *mask.Masker
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Events == "":
		return errors.New("parse: Config.Events is empty")
	case c.DeadLetters == "":
		return errors.New("parse: Config.DeadLetters is empty")
	case c.PartitionOf == nil:
		return errors.New("parse: Config.PartitionOf is nil")
	case c.RawLogs == nil || c.Encode == nil:
		return errors.New("parse: Config.RawLogs and Config.Encode must be set")
	case c.Origins != nil && c.KeyFor == nil:
		return errors.New("parse: Config.Origins needs Config.KeyFor")
	case c.MaxPartialBytes < 0 || c.MaxStackLines < 0 || c.MaxStackBytes < 0 || c.HoldIdle < 0:
		return errors.New("parse: Config.MaxPartialBytes, MaxStackLines, MaxStackBytes and HoldIdle must not be negative")
	case c.Registry != nil && c.State == nil:
		return errors.New("parse: Config.Registry needs Config.State")
	}
	return nil
}

// Processor is the parse stage's goka callback and its counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
	holds holds
	homes homes
}

// New returns the stage for cfg.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPartialBytes == 0 {
		cfg.MaxPartialBytes = DefaultMaxPartialBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	if cfg.HoldIdle == 0 {
		cfg.HoldIdle = DefaultHoldIdle
	}
	if cfg.MaxStackLines == 0 {
		cfg.MaxStackLines = DefaultMaxStackLines
	}
	if cfg.MaxStackBytes == 0 {
		cfg.MaxStackBytes = DefaultMaxStackBytes
	}
	p := &Processor{cfg: cfg, stats: newStats()}
	p.dlq = &deadletter.Writer{Stage: StageName, Topic: cfg.DeadLetters, Now: cfg.Now, Count: func() { p.stats.DeadLetters.Add(1) }}
	return p, nil
}

// Assigned tells the stage which input partitions this pod now owns
// (goka's rebalance callback): what others hold no longer holds its
// stamps back.
func (p *Processor) Assigned(parts []int32) {
	m := make(map[int32]bool, len(parts))
	for _, q := range parts {
		m[q] = true
	}
	p.holds.keep(m)
}

// HoldIdle returns how long a held line waits for its next one.
func (p *Processor) HoldIdle() time.Duration { return p.cfg.HoldIdle }

// Stats returns the stage's live counters.
func (p *Processor) Stats() *Stats { return p.stats }

// Process is the goka.ProcessCallback for logs.raw. It never panics on
// input: every record ends as one LogEvent, one DeadLetter, or in the
// group table (a CRI partial part, a line that may start a stack trace, a
// continuation line) until its event is complete. A record whose key
// belongs to another partition (a shipper that partitions otherwise) goes
// through the loop topic first (rehome).
func (p *Processor) Process(ctx goka.Context, msg any) {
	p.stats.In.Add(1)
	value, _ := msg.([]byte)
	raw, err := p.decode(ctx, value, ctx.Key())
	if err != nil {
		p.deadLetter(ctx, value, err)
		p.progress(ctx, ctx.Offset())
		return
	}
	key := ctx.Key()
	home := key != "" && p.partitionOf(key) == ctx.Partition()
	if !home && p.rehome(ctx, value) {
		return
	}
	h := p.host(ctx, raw, ctx.Offset(), home)
	p.process(ctx, raw, &h)
}

// process takes a decoded record on to its event.
func (p *Processor) process(ctx goka.Context, raw *schemas.RawLog, h *hostState) {
	emitted := false
	if cri, ok := ParseCRI(raw.Line); ok {
		emitted = p.processCRI(h, raw, cri)
	} else {
		emitted = p.logical(h, raw, raw.Line, raw.Line, ParseLine(raw.Line))
	}
	h.save()
	if !emitted {
		p.progress(ctx, h.seq)
	}
}

// decode turns an input value into a RawLog: Avro when it carries the
// single-object marker or the Confluent zero byte, a plain text line
// otherwise. An Avro RawLog written with a schema this build does not know
// is fetched from the schema registry (Config.RawLogs' source) or becomes a
// dead letter naming its fingerprint.
func (p *Processor) decode(ctx goka.Context, value []byte, host string) (*schemas.RawLog, error) {
	if value == nil {
		// A tombstone (goka.NilProcess hands it over as a nil msg); an
		// empty value is read as an empty, non-nil slice.
		return nil, deadletter.ErrTombstone
	}
	if len(value) == 0 {
		return nil, ErrEmptyRecord
	}
	// Avro in either wire format: a plain-text line never starts with the
	// single-object marker or a NUL byte.
	// A value too short for its header is still meant as Avro: it goes to
	// the dead-letter topic as such, not in as a line of text.
	if codecs.IsAvro(value) || value[0] == 0 || (len(value) >= 2 && value[0] == 0xC3 && value[1] == 0x01) {
		raw, err := p.cfg.RawLogs.Unmarshal(value)
		if err != nil {
			return nil, err // names the codec, the record and what is wrong
		}
		if raw.Host == "" {
			raw.Host = host
		}
		if raw.ReceivedAt == 0 {
			raw.ReceivedAt = ctx.Timestamp().UnixMilli()
		}
		return raw, nil
	}
	if !utf8.Valid(value) {
		return nil, ErrNotText
	}
	line := strings.TrimRight(string(value), "\r\n")
	if line == "" {
		return nil, ErrEmptyRecord
	}
	return &schemas.RawLog{
		Host:       host,
		Source:     string(ctx.Topic()),
		Line:       line,
		ReceivedAt: ctx.Timestamp().UnixMilli(),
	}, nil
}

// Errors recorded in dead letters for plain values.
var (
	ErrEmptyRecord = errors.New("empty record: no line to parse")
	ErrNotText     = errors.New("value is neither Avro (no C3 01 marker or Confluent zero byte) nor UTF-8 text")
)

// processCRI joins a CRI line's parts per host and source and hands the
// whole line on (logical). It reports whether it emitted an event.
func (p *Processor) processCRI(h *hostState, raw *schemas.RawLog, cri CRILine) bool {
	if !h.stateful {
		if cri.Partial {
			p.stats.PartialUnjoinable.Add(1)
		}
		return p.logical(h, raw, raw.Line, cri.Content, ParseLine(raw.Line))
	}
	st := h.state()
	pend, has := st.Pending[raw.Source]
	offset := h.offset
	if has && offset <= pend.LastOffset {
		// A replay of a part that is already in the state: applying it again
		// would double it. The line it belongs to is emitted by its F part.
		p.stats.Replayed.Add(1)
		return false
	}
	if has && pend.Mark >= 0 {
		// A sweep decided to emit the line as it stands: it takes no more
		// parts, and this record emits it before its own.
		p.flushPartial(h, raw.Source, pend)
		has = false
	}
	if !cri.Partial {
		if !has {
			return p.logical(h, raw, raw.Line, cri.Content, ParseCRIContent(cri))
		}
		joined := CRILine{Time: time.UnixMilli(pend.Time).UTC(), Stream: pend.Stream, Content: pend.Content + cri.Content}
		p.stats.PartialJoined.Add(1)
		h.dropPartial(raw.Source)
		h.carry += pend.Masked
		return p.logical(h, raw, joinedLine(joined), joined.Content, ParseCRIContent(joined))
	}
	if !has {
		pend = schemas.PendingLine{Stream: cri.Stream, Time: cri.Time.UnixMilli(), Mark: -1}
	}
	content, nc := p.maskCount(cri.Content) // held in parse-table: masked
	pend.Content += content
	pend.Masked += nc
	pend.Parts++
	pend.LastOffset = offset
	pend.Updated = p.cfg.Now().UnixMilli()
	if len(pend.Content) >= p.cfg.MaxPartialBytes {
		joined := CRILine{Time: time.UnixMilli(pend.Time).UTC(), Stream: pend.Stream, Content: pend.Content}
		p.stats.PartialTruncated.Add(1)
		if has {
			h.dropPartial(raw.Source)
		}
		h.carry += pend.Masked
		f := ParseCRIContent(joined)
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels["cri_truncated"] = "true"
		return p.logical(h, raw, joinedLine(joined), joined.Content, f)
	}
	h.putPartial(raw.Source, pend)
	p.stats.PartialHeld.Add(1)
	return false
}

// joinedLine is the line a joined CRI entry would have been unsplit; it
// feeds the event id so a replay of the same parts gets the same id.
func joinedLine(c CRILine) string {
	return c.Time.Format(time.RFC3339Nano) + " " + c.Stream + " F " + c.Content
}

// emitEvent writes ev; offset is the input record's (-1 for a sweep's
// visit, which has none).
func (p *Processor) emitEvent(ctx goka.Context, ev *schemas.LogEvent, line string, f Fields, offset int64) {
	p.maskEvent(ev)
	if ev.Cluster == "" {
		ev.Cluster = p.cfg.Cluster
	}
	if f.Format == "none" {
		p.stats.Unparsed.Add(1)
	}
	p.stats.countFormat(f.Format)
	b, err := p.cfg.Encode.Marshal(ev)
	if err != nil {
		// Every field is ours and every string valid UTF-8: a failure
		// is a bug, and the line goes to the dead letters with it.
		p.deadLetter(ctx, []byte(line), err)
		p.progress(ctx, offset)
		return
	}
	// The id, event time, trace and span ids go beside the bytes too:
	// dedupe and the join's re-key need no more, and do not decode the
	// event.
	if p.cfg.Origins == nil {
		p.send(ctx, ev, b, nil)
		p.stats.Events.Add(1)
		return
	}
	target := p.partitionOf(ev.EventID)
	ts, hasTime := ev.Timestamp, !watermark.Future(ev.Timestamp, ctx.Timestamp(), p.cfg.Now(), p.cfg.MaxFuture)
	stamp, due := p.cfg.Origins.Advance(ctx.Partition(), offset, ts, hasTime, target)
	stamp = p.holds.cap(ctx.Partition(), stamp)
	p.send(ctx, ev, b, watermark.Encode(stamp))
	p.stats.Events.Add(1)
	p.fanOut(ctx, stamp, due)
}

// send writes an event's bytes with its routing headers and stamp (when
// not nil): straight through the processor's producer when it can.
func (p *Processor) send(ctx goka.Context, ev *schemas.LogEvent, b, stamp []byte) {
	var arr [5]kgo.RecordHeader
	hs := schemas.RoutingOf(ev).AppendRecordHeaders(arr[:0])
	if stamp != nil {
		hs = append(hs, kgo.RecordHeader{Key: watermark.HeaderStamp, Value: stamp})
	}
	if p.cfg.Direct.Ready() {
		p.cfg.Direct.SendRecord(ctx, string(p.cfg.Events), ev.EventID, b, hs)
		return
	}
	ctx.Emit(p.cfg.Events, ev.EventID, b, goka.WithCtxEmitHeaders(broker.HeaderMap(hs)))
}

// progress notes a record that yields no event (a dead letter, a held
// part): its offset moves its partition along, and an idle partition
// wakes up.
func (p *Processor) progress(ctx goka.Context, offset int64) {
	if p.cfg.Origins == nil {
		return
	}
	stamp, due := p.cfg.Origins.Advance(ctx.Partition(), offset, 0, false, -1)
	p.fanOut(ctx, p.holds.cap(ctx.Partition(), stamp), due)
}

// fanOut writes a watermark record with stamp to each output partition due.
func (p *Processor) fanOut(ctx goka.Context, stamp watermark.Stamp, due []int32) {
	if len(due) == 0 {
		return
	}
	v, h := watermark.Record(stamp)
	for _, part := range due {
		ctx.Emit(p.cfg.Events, p.cfg.KeyFor(part), v, goka.WithCtxEmitHeaders(h))
		p.stats.Watermarks.Add(1)
	}
}

// Event builds the LogEvent for a parsed line. Host falls back from the
// RawLog to the line itself to "unknown"; the event time from the line to
// the time the line was received.
func Event(raw *schemas.RawLog, line string, f Fields) *schemas.LogEvent {
	host := raw.Host
	if host == "" {
		host = f.Host
	}
	if host == "" {
		host = "unknown"
	}
	ts := raw.ReceivedAt
	if !f.Timestamp.IsZero() {
		ts = f.Timestamp.UnixMilli()
	}
	ev := &schemas.LogEvent{
		Timestamp: ts,
		Host:      host,
		Service:   f.Service,
		Level:     f.Level,
		Message:   f.Message,
		Source:    raw.Source,
		Format:    f.Format,
		TraceID:   optString(f.TraceID),
		SpanID:    optString(f.SpanID),
	}
	if f.HTTPStatus != 0 {
		s := f.HTTPStatus
		ev.HTTPStatus = &s
	}
	if f.HasLatency {
		l := f.LatencyMs
		ev.LatencyMs = &l
	}
	ev.K8sNamespace = optString(f.K8sNamespace)
	ev.K8sPod = optString(f.K8sPod)
	ev.K8sContainer = optString(f.K8sContainer)
	ev.ParseError = optString(f.ParseError)
	switch {
	case len(raw.Labels) == 0:
		ev.Labels = f.Labels
	case len(f.Labels) == 0:
		ev.Labels = raw.Labels
	default:
		ev.Labels = make(map[string]string, len(raw.Labels)+len(f.Labels))
		for k, v := range f.Labels {
			ev.Labels[k] = v
		}
		for k, v := range raw.Labels { // the shipper's labels win: they were set on purpose
			ev.Labels[k] = v
		}
	}
	for _, k := range clusterLabels {
		if c := ev.Labels[k]; c != "" {
			ev.Cluster = c
			break
		}
	}
	ev.EventID = f.EventID
	if ev.EventID == "" {
		ev.EventID = EventID(host, raw.Source, ts, line)
	}
	return ev
}

// clusterLabels name the cluster in shippers' labels, in order of trust.
var clusterLabels = []string{"cluster", "k8s_cluster", "region"}

// EventID is the stable id of a line that carries none of its own: 128 bits
// of SHA-256 over host, source, event time and line, so that a shipper's
// retry of the same line gets the same id and dedupe can drop it.
func EventID(host, source string, tsMillis int64, line string) string {
	h := sha256.New()
	var buf [8]byte
	for _, s := range []string{host, source} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for i := range buf {
		buf[i] = byte(tsMillis >> (8 * i))
	}
	h.Write(buf[:])
	h.Write([]byte(line))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func (p *Processor) deadLetter(ctx goka.Context, value []byte, err error) {
	// The bytes as read, with card numbers and the configured patterns
	// masked: a dead letter is stored too.
	if m, n := p.cfg.Mask.String(string(value)); n > 0 {
		value = []byte(m)
	}
	p.dlq.Emit(ctx, value, err)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
