package tracejoin

import (
	"strings"
	"sync"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/schemas"
)

// DefaultCachedTraces bounds the decoded traces kept in memory per pod.
// The cache pays off for traces that gather many events (a trace of 1,000
// costs a quarter per event with it); most traces have one or two, and
// every cached trace is heap the garbage collector marks. On 1M lines of
// pipebench -full, 100,000 cached traces cost 20% more CPU per event and
// 400 MB more peak RSS than none; 10,000 keep the hot traces for a tenth
// of that.
const DefaultCachedTraces = 10_000

// traceCache keeps the decoded state of open traces in front of the table
// (as Kafka Streams' record cache does), so that an update does not decode
// the trace's whole state again: with the table alone, every event and
// span of a trace decoded everything the trace held, O(n²) over a trace
// of n. It also keeps the span id of each held event, so that a span's
// arrival does not decode the events waiting for it. Entries go when
// their trace closes, on a rebalance, and (any of them) when the cache is
// full; a miss reads the table as before.
type traceCache struct {
	max   int
	mu    sync.Mutex
	parts map[int32]map[string]*cachedTrace
	n     int
}

type cachedTrace struct {
	st    *schemas.TraceState
	spans map[string]string // held event id → the span id it names ("" for the root)
}

func newTraceCache(max int) *traceCache {
	return &traceCache{max: max, parts: map[int32]map[string]*cachedTrace{}}
}

func (c *traceCache) get(partition int32, key string) *cachedTrace {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts[partition][key]
}

// put caches st for key (keeping the span ids known of the same trace).
func (c *traceCache) put(partition int32, key string, st *schemas.TraceState) *cachedTrace {
	if c.max <= 0 {
		return &cachedTrace{st: st, spans: map[string]string{}} // this callback's alone
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.parts[partition]
	if m == nil {
		m = map[string]*cachedTrace{}
		c.parts[partition] = m
	}
	if e := m[key]; e != nil {
		e.st = st
		return e
	}
	if c.n >= c.max {
		c.evictOne()
	}
	e := &cachedTrace{st: st, spans: map[string]string{}}
	m[key] = e
	c.n++
	return e
}

// evictOne drops an arbitrary entry (Go's map order): the cache only saves
// decodes, any entry is as good to lose.
func (c *traceCache) evictOne() {
	for _, m := range c.parts {
		for k := range m {
			delete(m, k)
			c.n--
			return
		}
	}
}

func (c *traceCache) del(partition int32, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.parts[partition]; m != nil {
		if _, ok := m[key]; ok {
			delete(m, key)
			c.n--
		}
	}
}

func (c *traceCache) clear() {
	c.mu.Lock()
	c.parts = map[int32]map[string]*cachedTrace{}
	c.n = 0
	c.mu.Unlock()
}

// load returns the state of the trace of ctx (nil for none), from the
// cache or the table.
func (p *Processor) load(ctx goka.Context) (*schemas.TraceState, *cachedTrace) {
	part, key := ctx.Partition(), ctx.Key()
	if e := p.cache.get(part, key); e != nil {
		p.stats.CacheHits.Add(1)
		return e.st, e
	}
	st, _ := ctx.Value().(*schemas.TraceState)
	if st == nil {
		return nil, nil
	}
	return st, p.cache.put(part, key, st)
}

// spanIDOf returns the span id a held event names ("" for the root), from
// the cache or by decoding the event; ok is false for an event that does
// not decode.
func (p *Processor) spanIDOf(c *cachedTrace, e *schemas.HeldEvent) (string, bool) {
	if c != nil {
		if id, ok := c.spans[e.EventID]; ok {
			return id, true
		}
	}
	ev, err := p.cfg.EventCodec.Unmarshal(e.Value)
	if err != nil {
		return "", false
	}
	id := eventSpanID(ev)
	if c != nil {
		c.spans[e.EventID] = id
	}
	return id, true
}

// eventSpanID is the span id an event joins by ("" for the root).
func eventSpanID(ev *schemas.LogEvent) string {
	if ev.SpanID != nil && *ev.SpanID != "" {
		return strings.ToLower(*ev.SpanID)
	}
	return ""
}

// spanByID is the span an event joins, by the span id it names
// (eventSpanID): that span, or the trace's root for "".
func spanByID(st *traceState, id string) *schemas.SpanRef {
	if id != "" {
		return spanOf(st, id)
	}
	return rootOf(st)
}
