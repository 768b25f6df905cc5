package parse

import (
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/watermark"
)

// Rehoming. The stage keeps a host's held lines (CRI parts, traces) in the
// group table under the host's key, on the partition the key hashes to.
// A shipper that partitions otherwise (librdkafka's crc32, the Java
// client's murmur2) writes a host's lines to another partition, where its
// state cannot live. Such a record goes through the stage's loop topic
// under a home key: the host with a suffix chosen so that the home key
// hashes to the partition the record was read from. The loop record comes
// back to the same partition, in order, and its host's state is kept
// under the home key there: a host the shipper writes to one partition is
// joined whatever partitioner placed it. It costs those records one more
// trip through Kafka; records keyed as goka places them take none.
//
// Event time: while a loop record is on its way, its partition's stamps do
// not vouch past the event time the partition had when it was sent, so
// that its event does not come late downstream.

// homeSep separates a host from its home key's suffix: a byte that a host
// name never holds.
const homeSep = "\x00"

// HeaderRawOffset carries a loop record's offset in logs.raw.
const HeaderRawOffset = "ls-raw-offset"

// hostOf returns the host a table key stands for.
func hostOf(key string) string {
	if i := strings.LastIndex(key, homeSep); i >= 0 {
		return key[:i]
	}
	return key
}

// homes caches each host's home key per partition.
type homes struct {
	mu sync.Mutex
	m  map[homeOf]string
}

type homeOf struct {
	host string
	part int32
}

// key returns host's home key on part: host + homeSep + n, the least n
// whose key hashes to part (found in about as many tries as partitions).
func (hs *homes) key(host string, part int32, partitionOf func([]byte) int32) string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if k, ok := hs.m[homeOf{host, part}]; ok {
		return k
	}
	if hs.m == nil || len(hs.m) >= 1<<16 {
		hs.m = map[homeOf]string{}
	}
	b := []byte(host + homeSep)
	n := len(b)
	for i := 0; ; i++ {
		b = strconv.AppendInt(b[:n], int64(i), 10)
		if partitionOf(b) == part {
			k := string(b)
			hs.m[homeOf{host, part}] = k
			return k
		}
	}
}

// rehome sends a record whose key belongs to another partition (the
// caller checked) through the loop topic under its home key, and reports
// whether it did.
func (p *Processor) rehome(ctx goka.Context, value []byte) bool {
	key := ctx.Key()
	if p.cfg.Loop == "" || key == "" || strings.Contains(key, homeSep) {
		return false
	}
	part, off := ctx.Partition(), ctx.Offset()
	if p.cfg.Origins != nil {
		// Hold the partition's stamps where they are until the record is
		// back (Loop releases it).
		stamp, _ := p.cfg.Origins.Advance(part, off, 0, false, -1)
		if stamp.Kind == watermark.Time {
			p.holds.set(part, loopHold(off), stamp.Time+1)
		}
	}
	ctx.Loopback(p.homes.key(key, part, p.cfg.PartitionOf), value,
		goka.WithCtxEmitHeaders(goka.Headers{HeaderRawOffset: []byte(strconv.FormatInt(off, 10))}))
	p.stats.Rehomed.Add(1)
	return true
}

func loopHold(offset int64) string { return "\x00loop\x00" + strconv.FormatInt(offset, 10) }

// Loop is the callback for the loop topic: records rehomed by Process.
// Their key is a home key: the host's state lives under it here.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	value, _ := msg.([]byte)
	seq := int64(-1)
	if v, ok := ctx.Headers()[HeaderRawOffset]; ok {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			seq = n
		}
	}
	defer func() {
		if seq >= 0 {
			p.holds.set(ctx.Partition(), loopHold(seq), math.MaxInt64)
		}
	}()
	raw, err := p.decode(ctx, value, hostOf(ctx.Key()))
	if err != nil {
		// The stage loops only what decoded; a record that does not was
		// written by something else.
		p.deadLetter(ctx, value, err)
		return
	}
	// A home key hashes here by construction.
	h := p.host(ctx, raw, seq, p.partitionOf(ctx.Key()) == ctx.Partition())
	p.process(ctx, raw, &h)
}
