package exactlyonce

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
)

// Headers of guarded records.
const (
	HeaderStage = "ls-stage" // the stage that wrote the record
	HeaderFrom  = "ls-from"  // "<topic>@<offset>#<seq>": the input record and emit number
	HeaderPos   = "ls-pos"   // "<topic>=<offset>,...": last input offset processed, per topic
)

// Landed is what the last record a stage wrote to an output partition says.
type Landed struct {
	Topic  string           // input topic of the record that emitted it
	Offset int64            // offset of that record
	Seq    int              // its number among that record's emits to this output (1, 2, …)
	Pos    map[string]int64 // last offset processed per input topic at that emit
}

// covers reports whether the seq-th emit of the record at (topic, offset)
// is known to have landed.
func (l *Landed) covers(topic string, offset int64, seq int) bool {
	if l == nil {
		return false
	}
	p, ok := l.Pos[topic]
	switch {
	case !ok || offset > p:
		return false
	case offset < p:
		return true
	case l.Topic == topic && l.Offset == offset:
		return seq <= l.Seq
	default:
		// The last record came from a later record of another topic: this
		// one was processed (all its emits made) before it.
		return true
	}
}

// TailFunc returns what the last record stage wrote to (topic, partition)
// says, or nil when the stage never wrote there.
type TailFunc func(ctx context.Context, topic string, partition int32, stage string) (*Landed, error)

// Config configures a Fence.
type Config struct {
	Stage   string   // stage name, written in HeaderStage
	Outputs []string // output topics the stage alone writes
	Tail    TailFunc
	// PartitionOf places a key among the output's partitions as goka does.
	PartitionOf func(key string) int32
	// Direct, when Ready, writes the guarded records whose value is bytes
	// without ctx.Emit (see broker.Direct): the fence's headers and the
	// caller's go into the record as they are.
	Direct *broker.Direct
}

// Fence guards a stage's outputs. Begin must be called once per input
// record, in the goka callback, before any Emit.
type Fence struct {
	cfg   Config
	stage []byte // cfg.Stage, the value of every record's HeaderStage
	mu    sync.Mutex
	parts map[int32]*part

	suppressed atomic.Int64
	unguarded  atomic.Int64

	// codecs encode the values of the outputs a Direct writes, as the
	// stage's goka graph would (see UseGraph).
	codecs map[string]goka.Codec
}

// UseGraph takes the codecs of the stage's outputs from its graph, so that
// a Direct fence encodes a value that is not bytes as ctx.Emit would.
func (f *Fence) UseGraph(g *goka.GroupGraph) {
	f.codecs = map[string]goka.Codec{}
	for _, e := range g.OutputStreams() {
		f.codecs[e.Topic()] = e.Codec()
	}
}

type part struct {
	loaded bool
	landed map[string]*Landed // by output topic
	pos    map[string]int64   // by input topic
}

// New returns a fence for cfg.
func New(cfg Config) (*Fence, error) {
	if cfg.Stage == "" || cfg.Tail == nil || cfg.PartitionOf == nil {
		return nil, fmt.Errorf("exactlyonce: Config needs Stage, Tail and PartitionOf")
	}
	return &Fence{cfg: cfg, stage: []byte(cfg.Stage), parts: map[int32]*part{}}, nil
}

// Reset forgets every partition's landed positions; it is goka's rebalance
// callback, so that a partition coming back reads what another pod wrote
// meanwhile.
func (f *Fence) Reset() {
	f.mu.Lock()
	f.parts = map[int32]*part{}
	f.mu.Unlock()
}

// Suppressed returns how many emits were suppressed as already landed.
func (f *Fence) Suppressed() int64 { return f.suppressed.Load() }

// Unguarded returns how many emits went to another partition's key.
func (f *Fence) Unguarded() int64 { return f.unguarded.Load() }

// Record is one input record being processed.
type Record struct {
	f      *Fence
	p      *part
	ctx    goka.Context
	topic  string
	offset int64
	// seq counts the emits to each output so far; a record emits to one
	// or two outputs, so a short list beats a map.
	seq []outputSeq
}

type outputSeq struct {
	topic string
	n     int
}

// next counts one more emit to out and returns its number (1, 2, ...).
func (r *Record) next(out string) int {
	for i := range r.seq {
		if r.seq[i].topic == out {
			r.seq[i].n++
			return r.seq[i].n
		}
	}
	r.seq = append(r.seq, outputSeq{out, 1})
	return 1
}

// Begin starts processing the current record of ctx. The first record of a
// partition after an assignment reads the tails of the guarded outputs.
func (f *Fence) Begin(ctx goka.Context) (*Record, error) {
	return f.BeginAt(ctx, string(ctx.Topic()), ctx.Offset())
}

// BeginAt is Begin for a callback without an input record of its own (a
// goka visit): topic and offset name what its emits come from. The
// offsets of such a pseudo-topic must grow, per partition, in the order
// of the emits, and must stay above Position's, as a real topic's do.
func (f *Fence) BeginAt(ctx goka.Context, topic string, offset int64) (*Record, error) {
	p, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	if cur, ok := p.pos[topic]; !ok || offset > cur {
		p.pos[topic] = offset
	}
	return &Record{f: f, p: p, ctx: ctx, topic: topic, offset: offset}, nil
}

// Position returns the highest offset of topic the stage's emits on the
// partition of ctx claim (what landed, and what this pod began since);
// -1 for none.
func (f *Fence) Position(ctx goka.Context, topic string) (int64, error) {
	p, err := f.load(ctx)
	if err != nil {
		return -1, err
	}
	if o, ok := p.pos[topic]; ok {
		return o, nil
	}
	return -1, nil
}

func (f *Fence) load(ctx goka.Context) (*part, error) {
	partition := ctx.Partition()
	f.mu.Lock()
	p := f.parts[partition]
	if p == nil {
		p = &part{landed: map[string]*Landed{}, pos: map[string]int64{}}
		f.parts[partition] = p
	}
	f.mu.Unlock()
	if !p.loaded {
		for _, out := range f.cfg.Outputs {
			l, err := f.cfg.Tail(ctx.Context(), out, partition, f.cfg.Stage)
			if err != nil {
				return nil, fmt.Errorf("exactlyonce: %s: reading the tail of %s/%d: %w", f.cfg.Stage, out, partition, err)
			}
			p.landed[out] = l
			if l != nil {
				// New emits must claim at least what has landed, or a
				// later crash would read a tail that claims less.
				for t, o := range l.Pos {
					if o > p.pos[t] {
						p.pos[t] = o
					}
				}
			}
		}
		p.loaded = true
	}
	return p, nil
}

// Emit emits value to topic under key unless the same emit of this record
// already landed; it reports whether it emitted.
func (r *Record) Emit(topic goka.Stream, key string, value any) bool {
	return r.EmitHeaders(topic, key, value, nil)
}

// EmitHeaders is Emit with headers of the caller's (a watermark stamp)
// beside the fence's own.
func (r *Record) EmitHeaders(topic goka.Stream, key string, value any, headers goka.Headers) bool {
	return r.emit(topic, key, value, headers, nil)
}

// EmitRecordHeaders is EmitHeaders with the headers as a record's: a
// stage that writes every record it reads with a few headers builds them
// without a map when the fence writes through its Direct.
func (r *Record) EmitRecordHeaders(topic goka.Stream, key string, value any, headers []kgo.RecordHeader) bool {
	return r.emit(topic, key, value, nil, headers)
}

// emit writes value with the headers of hm and hs (one of them).
func (r *Record) emit(topic goka.Stream, key string, value any, hm goka.Headers, hs []kgo.RecordHeader) bool {
	out := string(topic)
	landed, guarded := r.p.landed[out]
	if !guarded && !r.f.guards(out) {
		r.ctxEmit(topic, key, value, headerMap(hm, hs, 0))
		return true
	}
	seq := r.next(out)
	if r.f.cfg.PartitionOf(key) != r.ctx.Partition() {
		r.f.unguarded.Add(1)
		r.ctxEmit(topic, key, value, headerMap(hm, hs, 0))
		return true
	}
	if landed.covers(r.topic, r.offset, seq) {
		r.f.suppressed.Add(1)
		return false
	}
	// Both values in one buffer: this runs for every record a stage
	// writes.
	b := make([]byte, 0, len(r.topic)+24+posLen(r.p.pos))
	b = append(b, r.topic...)
	b = append(b, '@')
	b = strconv.AppendInt(b, r.offset, 10)
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(seq), 10)
	from := len(b)
	b = appendPos(b, r.p.pos)
	if v, ok := r.f.direct(out, value); ok {
		d := r.f.cfg.Direct.Record(out, key, v)
		d.Headers = append(d.Headers,
			kgo.RecordHeader{Key: HeaderStage, Value: r.f.stage},
			kgo.RecordHeader{Key: HeaderFrom, Value: b[:from:from]},
			kgo.RecordHeader{Key: HeaderPos, Value: b[from:]})
		for k, v := range hm {
			d.Headers = append(d.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
		d.Headers = append(d.Headers, hs...)
		r.f.cfg.Direct.Send(r.ctx, d)
		return true
	}
	h := headerMap(hm, hs, 3)
	h[HeaderStage] = r.f.stage
	h[HeaderFrom] = b[:from:from]
	h[HeaderPos] = b[from:]
	r.ctx.Emit(topic, key, value, goka.WithCtxEmitHeaders(h))
	return true
}

func (r *Record) ctxEmit(topic goka.Stream, key string, value any, h goka.Headers) {
	if h != nil {
		r.ctx.Emit(topic, key, value, goka.WithCtxEmitHeaders(h))
	} else {
		r.ctx.Emit(topic, key, value)
	}
}

// headerMap returns hm, or hs as a map, with room for extra more.
func headerMap(hm goka.Headers, hs []kgo.RecordHeader, extra int) goka.Headers {
	if extra == 0 {
		if len(hs) == 0 {
			return hm
		}
		return broker.HeaderMap(hs)
	}
	h := make(goka.Headers, len(hm)+len(hs)+extra)
	for k, v := range hm {
		h[k] = v
	}
	for _, x := range hs {
		h[x.Key] = x.Value
	}
	return h
}

// direct returns the bytes to write value with a Direct; ok is false when
// the fence has none, or cannot encode value (it then goes through
// ctx.Emit, whose failure to encode fails the processor).
func (f *Fence) direct(topic string, value any) ([]byte, bool) {
	if !f.cfg.Direct.Ready() {
		return nil, false
	}
	if c := f.codecs[topic]; c != nil {
		b, err := c.Encode(value)
		return b, err == nil
	}
	b, ok := value.([]byte)
	return b, ok
}

func (f *Fence) guards(topic string) bool {
	for _, o := range f.cfg.Outputs {
		if o == topic {
			return true
		}
	}
	return false
}

func encodePos(pos map[string]int64) string { return string(appendPos(nil, pos)) }

// appendPos appends pos as "<topic>=<offset>,..." to b.
func appendPos(b []byte, pos map[string]int64) []byte {
	first := true
	for t, o := range pos {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, t...)
		b = append(b, '=')
		b = strconv.AppendInt(b, o, 10)
	}
	return b
}

// posLen is about the length of pos encoded (for a buffer's capacity).
func posLen(pos map[string]int64) int {
	n := 0
	for t := range pos {
		n += len(t) + 21
	}
	return n
}

// ParseHeaders reads a guarded record's headers (by key); ok is false when
// the record is not stage's.
func ParseHeaders(stage string, get func(key string) []byte) (*Landed, bool, error) {
	if string(get(HeaderStage)) != stage {
		return nil, false, nil
	}
	from := string(get(HeaderFrom))
	at := strings.LastIndexByte(from, '@')
	hash := strings.LastIndexByte(from, '#')
	if at < 0 || hash < at {
		return nil, false, fmt.Errorf("exactlyonce: header %s %q is malformed", HeaderFrom, from)
	}
	off, err1 := strconv.ParseInt(from[at+1:hash], 10, 64)
	seq, err2 := strconv.Atoi(from[hash+1:])
	if err1 != nil || err2 != nil {
		return nil, false, fmt.Errorf("exactlyonce: header %s %q is malformed", HeaderFrom, from)
	}
	l := &Landed{Topic: from[:at], Offset: off, Seq: seq, Pos: map[string]int64{}}
	if pos := string(get(HeaderPos)); pos != "" {
		for _, kv := range strings.Split(pos, ",") {
			eq := strings.LastIndexByte(kv, '=')
			if eq < 0 {
				return nil, false, fmt.Errorf("exactlyonce: header %s %q is malformed", HeaderPos, pos)
			}
			o, err := strconv.ParseInt(kv[eq+1:], 10, 64)
			if err != nil {
				return nil, false, fmt.Errorf("exactlyonce: header %s %q is malformed", HeaderPos, pos)
			}
			l.Pos[kv[:eq]] = o
		}
	}
	if cur, ok := l.Pos[l.Topic]; !ok || cur < l.Offset {
		l.Pos[l.Topic] = l.Offset
	}
	return l, true, nil
}
