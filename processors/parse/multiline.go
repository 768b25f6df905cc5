package parse

import (
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/watermark"
)

// Multi-line events. A Java stack trace, a Python traceback or a Go panic
// is written as many lines, and a shipper sends each as its own record.
// The stage joins them back into the event they belong to, per host and
// source, in the group table (like CRI partial lines):
//
//   - a line that may start a trace (an error, fatal or warning line of a
//     format a trace follows, a Java exception line, "Traceback (most
//     recent call last):", "panic: ") is held instead of emitted;
//   - a continuation line (indented, "Caused by:", "... N more", an
//     exception line, a Go goroutine header or frame) is appended to the
//     held event of its host and source;
//   - any other line emits the held event first, then goes on as usual;
//   - a sweep emits a held event that has waited Config.HoldIdle of wall
//     clock without a next line (the trace was the host's last output).
//
// Holding only lines that may start a trace keeps the table out of the
// path of the other lines: they cost one lookup of their host's state.
// A held event that no continuation followed is emitted exactly as if it
// had not been held (same fields, same event id), so replay equals live
// whether the next line came at once (a backlog) or after the idle time.

// Defaults of the multi-line bounds and the idle time.
const (
	DefaultMaxStackLines = 500
	DefaultMaxStackBytes = 256 << 10
	DefaultHoldIdle      = 2 * time.Second // below the watermark's idle timeout (5 s)
)

// hostState is one record's view of its host's group-table value: read
// at most once, written at most once (save).
type hostState struct {
	p        *Processor
	ctx      goka.Context
	stateful bool  // the key's state lives on this partition
	offset   int64 // the record's offset in its topic; -1 in a sweep's visit
	seq      int64 // its offset in logs.raw, for event-time stamps; -1: none
	// carry counts values masked in parts already stored masked (a CRI
	// partial line's): the next event or held line takes them.
	carry  int32
	loaded bool
	dirty  bool
	st     *schemas.ParseState
}

// host returns the state view of the record's key. A record whose key is
// empty or hashes to another partition (a shipper with another
// partitioner) cannot keep state: its lines are emitted as they come.
// home says whether the key hashes to the record's partition.
func (p *Processor) host(ctx goka.Context, raw *schemas.RawLog, seq int64, home bool) hostState {
	key := ctx.Key()
	return hostState{p: p, ctx: ctx, offset: ctx.Offset(), seq: seq,
		stateful: home && key != "" && raw.Host == hostOf(key)}
}

// partitionOf is Config.PartitionOf over a string's bytes, without a
// copy (one per record otherwise): the partitioner only reads them.
func (p *Processor) partitionOf(s string) int32 {
	return p.cfg.PartitionOf(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// state returns the host's state, empty when it has none.
func (h *hostState) state() *schemas.ParseState {
	if h.load() == nil {
		h.st = &schemas.ParseState{}
	}
	return h.st
}

// load reads the host's state once; nil when it has none.
func (h *hostState) load() *schemas.ParseState {
	if !h.loaded {
		h.loaded = true
		h.st, _ = h.ctx.Value().(*schemas.ParseState)
	}
	return h.st
}

// peek returns the host's held event of source, without allocating a
// state the host does not have (the common case: nothing held).
func (h *hostState) peek(source string) (schemas.PendingEvent, bool) {
	if !h.stateful {
		return schemas.PendingEvent{}, false
	}
	st := h.load()
	if st == nil {
		return schemas.PendingEvent{}, false
	}
	e, ok := st.Events[source]
	return e, ok
}

func (h *hostState) putPartial(source string, pend schemas.PendingLine) {
	st := h.state()
	if st.Pending == nil {
		st.Pending = map[string]schemas.PendingLine{}
	}
	st.Pending[source] = pend
	h.dirty = true
}

func (h *hostState) dropPartial(source string) {
	delete(h.state().Pending, source)
	h.dirty = true
}

func (h *hostState) putEvent(source string, e schemas.PendingEvent) {
	st := h.state()
	if st.Events == nil {
		st.Events = map[string]schemas.PendingEvent{}
	}
	st.Events[source] = e
	h.dirty = true
}

func (h *hostState) dropEvent(source string) {
	delete(h.state().Events, source)
	h.dirty = true
}

// save writes the state back if it changed (deletes it when empty), and
// tells the sweeper and the watermark hold what the key now holds.
func (h *hostState) save() {
	if !h.dirty {
		return
	}
	h.p.store(h.ctx, h.st)
}

// store writes st as key's value (deleting an empty one), notes its Due
// and its hold on event time.
func (p *Processor) store(ctx goka.Context, st *schemas.ParseState) {
	part, key := ctx.Partition(), ctx.Key()
	if len(st.Pending) == 0 && len(st.Events) == 0 {
		ctx.Delete()
		p.holds.set(part, key, math.MaxInt64)
		if p.cfg.Registry != nil {
			p.cfg.Registry.Forget(part, key)
		}
		return
	}
	ctx.SetValue(st)
	due, hold := p.dueOf(st)
	p.holds.set(part, key, hold)
	if p.cfg.Registry != nil {
		p.cfg.Registry.Note(part, key, due)
	}
}

// logical takes one whole line (a CRI line's parts already joined): line
// is what the event id and a later parse read, content what the
// continuation rules look at, f its parse. It reports whether it emitted
// an event (a held line emits nothing yet).
func (p *Processor) logical(h *hostState, raw *schemas.RawLog, line, content string, f Fields) bool {
	// What the stage stores or hashes is masked (masking.go); f, parsed
	// from the line as read, is masked when its event is built.
	same := content == line // a plain line: its content is the line
	content, nc := p.maskCount(content)
	if same {
		line = content
	} else {
		line = p.maskLine(line)
	}
	if !h.stateful {
		p.emitLine(h, raw, line, f)
		return true
	}
	src := raw.Source
	offset := h.offset
	emitted := false
	if e, has := h.peek(src); has {
		switch {
		case offset >= 0 && offset <= e.LastOffset:
			// A replayed line already applied to the held event.
			p.stats.Replayed.Add(1)
			return false
		case e.Mark < 0 && continues(content):
			if int(e.Lines) < p.cfg.MaxStackLines && len(e.Stack)+1+len(content) <= p.cfg.MaxStackBytes {
				if e.Lines > 0 {
					e.Stack += "\n"
				}
				e.Stack += content
				e.Masked += nc + h.carry
				h.carry = 0
				e.Lines++
				e.LastOffset, e.Updated = offset, p.cfg.Now().UnixMilli()
				h.putEvent(src, e)
				p.stats.StackLines.Add(1)
				return false
			}
			// Past the bound: the event goes as it stands, marked, and
			// this line on its own (not lost).
			p.stats.StackTruncated.Add(1)
			p.flushEvent(h.ctx, src, e, true, h.seq)
			h.dropEvent(src)
			p.emitLine(h, raw, line, f)
			return true
		default:
			// The next event began (or a sweep closed this one).
			p.flushEvent(h.ctx, src, e, false, h.seq)
			h.dropEvent(src)
			emitted = true
		}
	}
	if startsTrace(f, content) {
		labels, nl := p.cfg.Mask.Labels(raw.Labels)
		// The line is stored masked; its count is what masking the
		// event's message would have found.
		h.putEvent(src, schemas.PendingEvent{Line: line, ReceivedAt: raw.ReceivedAt, Labels: labels,
			LastOffset: offset, Updated: p.cfg.Now().UnixMilli(), Mark: -1, Masked: nc + int32(nl) + h.carry})
		h.carry = 0
		p.stats.StackHeld.Add(1)
		return emitted
	}
	p.emitLine(h, raw, line, f)
	return true
}

// emitLine emits the event of one line.
func (p *Processor) emitLine(h *hostState, raw *schemas.RawLog, line string, f Fields) {
	ev := Event(raw, line, f)
	ev.Masked, h.carry = h.carry, 0
	p.emitEvent(h.ctx, ev, line, f, h.seq)
}

// flushEvent emits a held event: its first line parsed again, the
// continuation lines appended to the message and in stack. Without
// continuation lines it is the event the line alone makes.
func (p *Processor) flushEvent(ctx goka.Context, source string, e schemas.PendingEvent, truncated bool, offset int64) {
	raw := &schemas.RawLog{Host: hostOf(ctx.Key()), Source: source, Line: e.Line, ReceivedAt: e.ReceivedAt, Labels: e.Labels}
	f := ParseLine(e.Line)
	line := e.Line
	if e.Lines > 0 {
		f.Message += "\n" + e.Stack
		line += "\n" + e.Stack
		p.stats.StackJoined.Add(1)
	}
	if truncated {
		f.Labels = withLabel(f.Labels, "multiline_truncated", "true")
	}
	ev := Event(raw, line, f)
	if e.Lines > 0 {
		stack := e.Stack
		ev.Stack = &stack
	}
	ev.Masked = e.Masked
	p.emitEvent(ctx, ev, line, f, offset)
}

// flushPartial emits a held CRI partial line as it stands: its parts
// never ended within the idle time.
func (p *Processor) flushPartial(h *hostState, source string, pend schemas.PendingLine) {
	joined := CRILine{Time: timeOf(pend.Time), Stream: pend.Stream, Content: pend.Content, Partial: true}
	p.stats.PartialIdle.Add(1)
	h.dropPartial(source)
	h.carry += pend.Masked
	raw := &schemas.RawLog{Host: hostOf(h.ctx.Key()), Source: source, Line: joinedLine(joined), ReceivedAt: pend.Time}
	p.logical(h, raw, raw.Line, joined.Content, ParseCRIContent(joined))
}

func withLabel(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string, 1)
	}
	m[k] = v
	return m
}

// dueOf is when a key's state has work for the sweeper (wall-clock ms:
// the sweeper's clock is the wall clock), and the oldest event time it
// holds back.
func (p *Processor) dueOf(st *schemas.ParseState) (state.Due, int64) {
	idle := p.cfg.HoldIdle.Milliseconds()
	d := state.Due{At: math.MaxInt64, Marked: -1}
	hold := int64(math.MaxInt64)
	for _, pend := range st.Pending {
		d.At = min(d.At, pend.Updated+idle)
		if pend.Mark >= 0 && (d.Marked < 0 || pend.Mark < d.Marked) {
			d.Marked = pend.Mark
		}
		hold = min(hold, pend.Time)
	}
	for _, e := range st.Events {
		d.At = min(d.At, e.Updated+idle)
		if e.Mark >= 0 && (d.Marked < 0 || e.Mark < d.Marked) {
			d.Marked = e.Mark
		}
		hold = min(hold, Event(&schemas.RawLog{ReceivedAt: e.ReceivedAt}, "", ParseLine(e.Line)).Timestamp)
	}
	return d, hold
}

// DueOf tells the sweeper when a stored value has work (for the keys a
// pod finds in its store when it opens a partition); it also restores the
// key's hold on event time.
func (p *Processor) DueOf(key string, value []byte) (state.Due, bool) {
	st, err := p.cfg.State.Unmarshal(value)
	if err != nil {
		return state.Due{}, false
	}
	d, _ := p.dueOf(st)
	return d, true
}

// Sweep is the table's visitor (state.VisitName): it emits what has
// waited the idle time. A visit has no input record whose replay would
// repeat it, so it goes in two visits, as the trace join's releases do:
// the first (state.VisitDue) marks the held lines and events that have
// waited long enough, which freezes them (a marked one takes no more
// lines); the next (state.VisitMarked, once the mark is written) emits
// them. A crash in between finds the marks and emits them again, with the
// same event ids (dedupe drops a second copy); a record of the host that
// comes first emits a marked one itself, before its own line.
func (p *Processor) Sweep(ctx goka.Context, meta any) {
	part, key := ctx.Partition(), ctx.Key()
	v, _ := meta.(*state.Visit)
	t, ok := v.Timer(part)
	st, _ := ctx.Value().(*schemas.ParseState)
	if st == nil || !ok {
		if st == nil && p.cfg.Registry != nil {
			p.cfg.Registry.Forget(part, key)
		}
		return
	}
	h := &hostState{p: p, ctx: ctx, stateful: true, offset: -1, seq: -1, loaded: true, st: st}
	if v.Phase == state.VisitMarked {
		for src, pend := range st.Pending {
			if pend.Mark >= 0 {
				p.flushPartial(h, src, pend)
			}
		}
		for src, e := range st.Events {
			if e.Mark >= 0 {
				p.stats.StackIdle.Add(1)
				p.flushEvent(ctx, src, e, false, -1)
				h.dropEvent(src)
			}
		}
	} else {
		// Waiting counts from the last line, or from when this pod took
		// the partition over if that is later: a pod that was down, or
		// a partition being handed over, left lines unread, not unsent.
		idle := p.cfg.HoldIdle.Milliseconds()
		waited := func(updated int64) bool { return max(updated, t.Since)+idle <= t.Wall }
		for src, pend := range st.Pending {
			if pend.Mark < 0 && waited(pend.Updated) {
				pend.Mark = t.Wall
				h.putPartial(src, pend)
			}
		}
		for src, e := range st.Events {
			if e.Mark < 0 && waited(e.Updated) {
				e.Mark = t.Wall
				h.putEvent(src, e)
			}
		}
	}
	if h.dirty {
		h.save()
		return
	}
	// Nothing to do after all (a record came since the sweep judged):
	// note the key again.
	if p.cfg.Registry != nil {
		d, _ := p.dueOf(st)
		p.cfg.Registry.Note(part, key, d)
	}
}

// WallClock is the parse sweeper's clock: held lines wait by the wall
// clock, so each partition's "stream time" is now.
type WallClock struct{ Now func() int64 }

// StreamTime returns the wall clock, ms.
func (c WallClock) StreamTime(int32) int64 { return c.Now() }

// Idle is never used by the parse sweeper (no Sweeper.Idle).
func (WallClock) Idle(int32) time.Duration { return 0 }

// holds keeps, per partition, the oldest event time each key holds back:
// a held event is written later than the lines after it, so the
// partition's stamps must not vouch for event time past it (the windows
// downstream would count it late). Stamps are capped just below the
// oldest held time of their partition.
type holds struct {
	mu    sync.Mutex
	parts map[int32]*partHolds
}

type partHolds struct {
	keys  map[string]int64
	min   int64
	stale bool // min must be computed again
}

// set records key's hold (MaxInt64: none).
func (hs *holds) set(part int32, key string, t int64) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ph := hs.parts[part]
	if ph == nil {
		if t == math.MaxInt64 {
			return
		}
		if hs.parts == nil {
			hs.parts = map[int32]*partHolds{}
		}
		ph = &partHolds{keys: map[string]int64{}, min: math.MaxInt64}
		hs.parts[part] = ph
	}
	old, had := ph.keys[key]
	if t == math.MaxInt64 {
		delete(ph.keys, key)
	} else {
		ph.keys[key] = t
	}
	switch {
	case t < ph.min:
		ph.min = t
	case had && old <= ph.min:
		ph.stale = true
	}
}

// cap lowers s below the oldest time held on part.
func (hs *holds) cap(part int32, s watermark.Stamp) watermark.Stamp {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ph := hs.parts[part]
	if ph == nil || len(ph.keys) == 0 {
		return s
	}
	if ph.stale {
		ph.min, ph.stale = math.MaxInt64, false
		for _, t := range ph.keys {
			ph.min = min(ph.min, t)
		}
	}
	if s.Kind == watermark.Time && s.Time >= ph.min {
		s.Time = ph.min - 1
	}
	return s
}

// keep drops the holds of partitions this pod no longer owns.
func (hs *holds) keep(parts map[int32]bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for p := range hs.parts {
		if !parts[p] {
			delete(hs.parts, p)
		}
	}
}

// startsTrace reports whether a line may be followed by continuation
// lines that belong to it.
func startsTrace(f Fields, content string) bool {
	s := strings.TrimLeft(content, " \t")
	switch {
	case strings.HasPrefix(s, "Traceback (most recent call last):"),
		strings.HasPrefix(s, "panic: "), strings.HasPrefix(s, "fatal error: "),
		strings.HasPrefix(s, "Exception in thread "):
		return true
	}
	if strings.HasPrefix(s, "{") {
		// A JSON logger puts its stack trace in a field (also inside CRI).
		return false
	}
	format := f.Format
	if format == formatCRI {
		format = f.Inner
	}
	switch format {
	case formatJSON, formatCombined, formatALB, formatSyslog3164, formatSyslog5424:
		// Access logs have no traces; syslog carries one line per
		// message.
		return false
	}
	switch f.Level {
	case schemas.LevelError, schemas.LevelFatal, schemas.LevelWarn:
		return true
	}
	return exceptionLine(s)
}

// continues reports whether a line continues the event before it.
func continues(content string) bool {
	if content == "" {
		return false
	}
	switch content[0] {
	case ' ', '\t':
		// Java frames ("\tat ...", "\t... 12 more"), Python frames and
		// source lines, Go frames' file lines.
		return strings.TrimLeft(content, " \t") != ""
	}
	switch {
	case strings.HasPrefix(content, "Caused by: "), strings.HasPrefix(content, "Suppressed: "),
		strings.HasPrefix(content, "... "),
		// Python.
		strings.HasPrefix(content, "Traceback (most recent call last):"),
		strings.HasPrefix(content, "During handling of the above exception"),
		strings.HasPrefix(content, "The above exception was the direct cause"),
		// Go.
		strings.HasPrefix(content, "goroutine "), strings.HasPrefix(content, "created by "),
		strings.HasPrefix(content, "[signal "), strings.HasPrefix(content, "exit status "):
		return true
	}
	return exceptionLine(content) || goFrame(content)
}

// exceptionLine reports whether s names an exception: a (dotted) class
// name whose last part ends in Exception, Error, Throwable, Warning, Exit
// or Interrupt, or a dotted Java class name (java.lang.X), alone or
// followed by ": message".
func exceptionLine(s string) bool {
	name := s
	if i := strings.IndexByte(s, ':'); i >= 0 {
		name = s[:i]
		if i+1 < len(s) && s[i+1] != ' ' {
			return false
		}
	}
	if name == "" || len(name) > 200 {
		return false
	}
	dots := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if i == 0 || name[i-1] == '.' {
				return false
			}
			dots++
		case c == '_' || c == '$' || isDigit(c) && i > 0 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		default:
			return false
		}
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	for _, suf := range []string{"Exception", "Error", "Throwable", "Warning", "Exit", "Interrupt"} {
		if strings.HasSuffix(last, suf) {
			return true
		}
	}
	// java.lang.Foo, com.shop.db.PoolTimeout: a qualified class name.
	return dots >= 2 && last != "" && 'A' <= last[0] && last[0] <= 'Z'
}

// goFrame reports whether s is a Go stack frame's function line:
// "main.main()", "net/http.(*conn).serve(0xc000123456)".
func goFrame(s string) bool {
	if !strings.HasSuffix(s, ")") {
		return false
	}
	i := strings.IndexByte(s, '(')
	return i > 0 && !strings.ContainsAny(s[:i], " \t") && strings.IndexByte(s[:i], '.') > 0
}

// timeOf converts ms to a UTC time.
func timeOf(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
