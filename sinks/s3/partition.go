package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/sinks"
)

// Object metadata (x-amz-meta-*) of every object: how a writer that finds
// an object in its way (412) learns where to go on.
const (
	MetaStartOffset = "start-offset"
	MetaEndOffset   = "end-offset" // offset of the object's last record
	MetaRecords     = "records"
	MetaTopic       = "topic"
	MetaPartition   = "partition"
)

// line is one record of an object.
type line struct {
	offset int64
	json   []byte
	value  any
	hour   int64 // hours since the epoch of the record's time, UTC
}

// object is one object being built or waiting for its upload.
type object struct {
	lines  []line
	size   int       // uncompressed NDJSON bytes
	opened time.Time // wall clock of its first record (MaxAge)
	// uploaded is how many lines a partial upload (deterministic mode)
	// already wrote.
	uploaded int
}

func (o *object) first() int64 { return o.lines[0].offset }
func (o *object) last() int64  { return o.lines[len(o.lines)-1].offset }

type partitionWriter struct {
	s         *Sink
	topic     string
	partition int32
	dead      sinks.DeadLetters

	cur     *object
	pending []*object // closed, in offset order, not yet in the store
	// skipThrough: records up to it are in the store already (learnt from
	// an object that was in our way); -1 none.
	skipThrough int64
	lastAdded   int64

	objects, records, bytes, conflicts prometheus.Counter
	latency                            prometheus.Histogram
}

func (p *partitionWriter) Add(ctx context.Context, r *kgo.Record) error {
	if r.Offset <= p.skipThrough {
		p.lastAdded = r.Offset
		return nil // another writer stored it
	}
	doc, err := p.s.cfg.Decoder.Decode(r)
	if err != nil {
		cause := fmt.Errorf("s3 sink: record %s/%d@%d cannot be encoded: %w", r.Topic, r.Partition, r.Offset, err)
		if err := p.dead.Send(ctx, r, cause); err != nil {
			return err // not added: never committed
		}
		p.lastAdded = r.Offset
		return nil
	}
	p.lastAdded = r.Offset
	l := line{offset: r.Offset, json: doc.JSON, hour: doc.Time.UTC().Unix() / 3600}
	if p.s.cfg.Format == FormatParquet {
		l.value = doc.Value
	}
	if p.cur != nil && p.boundary(l) {
		p.close()
	}
	if p.cur == nil {
		p.cur = &object{opened: p.s.cfg.Now()}
	}
	p.cur.lines = append(p.cur.lines, l)
	p.cur.size += len(l.json) + 1
	if p.complete() {
		p.close()
	}
	return nil
}

// boundary reports whether l must start a new object.
func (p *partitionWriter) boundary(l line) bool {
	o := p.cur
	if l.hour != o.lines[0].hour {
		return true // objects sit in their hour's folder
	}
	if p.s.cfg.Mode == ModeDeterministic {
		n := int64(p.s.cfg.MaxRecords)
		return l.offset/n != o.first()/n
	}
	return o.size+len(l.json)+1 > p.s.cfg.MaxBytes && len(o.lines) > 0
}

// complete reports whether the current object is full.
func (p *partitionWriter) complete() bool {
	o := p.cur
	if p.s.cfg.Mode == ModeDeterministic {
		n := int64(p.s.cfg.MaxRecords)
		return o.last()%n == n-1 // the slot's last offset
	}
	return len(o.lines) >= p.s.cfg.MaxRecords || o.size >= p.s.cfg.MaxBytes
}

func (p *partitionWriter) close() {
	p.pending = append(p.pending, p.cur)
	p.cur = nil
}

func (p *partitionWriter) Full() bool { return len(p.pending) > 0 }

func (p *partitionWriter) Due() time.Time {
	if p.cur == nil || len(p.cur.lines) == p.cur.uploaded {
		return time.Time{}
	}
	return p.cur.opened.Add(p.s.cfg.MaxAge)
}

func (p *partitionWriter) Flush(ctx context.Context, all bool) error {
	if all && p.cur != nil && p.s.cfg.Mode == ModeConditional {
		p.close()
	}
	for len(p.pending) > 0 {
		if err := p.store(ctx, p.pending[0]); err != nil {
			return err
		}
		p.pending = p.pending[1:]
	}
	if all && p.cur != nil && p.cur.uploaded < len(p.cur.lines) {
		// Deterministic mode: write the slot so far, so that data does not
		// wait for the slot to fill. The commit stays at the object's
		// start, and the complete object overwrites this one.
		if err := p.put(ctx, p.cur, false); err != nil {
			return err
		}
		p.cur.uploaded = len(p.cur.lines)
		p.cur.opened = p.s.cfg.Now()
	}
	return nil
}

// store writes o; in conditional mode it resolves conflicts with objects
// already in the chain.
func (p *partitionWriter) store(ctx context.Context, o *object) error {
	if p.s.cfg.Mode == ModeDeterministic {
		return p.put(ctx, o, false)
	}
	for len(o.lines) > 0 {
		err := p.put(ctx, o, true)
		if err == nil {
			return nil
		}
		if !isPreconditionFailed(err) {
			return err
		}
		key := p.key(o)
		end, err := p.endOffset(ctx, key)
		if err != nil {
			return err
		}
		if end < o.first() {
			// An end before the key's own start offset is no chain's:
			// skip(end) would drop nothing, the key would stay the same
			// and this loop would PUT and HEAD it forever (no backoff, no
			// breaker, deaf to shutdown).
			return &sinks.Permanent{Err: fmt.Errorf("s3 sink: object %q is in the way of partition %d's chain and its %s metadata %d is before the key's start offset %d: it was not written by logstream; move it", key, p.partition, MetaEndOffset, end, o.first())}
		}
		p.conflicts.Inc()
		p.s.cfg.Logger.Info().Str("key", key).Int64("end_offset", end).Int64("our_end", o.last()).
			Msg("object exists (written by a previous owner of the partition or a zombie); continuing after its end")
		p.skip(end)
	}
	return nil
}

// skip drops every buffered record up to end: they are in the store.
func (p *partitionWriter) skip(end int64) {
	if end <= p.skipThrough {
		return
	}
	p.skipThrough = end
	drop := func(o *object) {
		i := 0
		for i < len(o.lines) && o.lines[i].offset <= end {
			i++
		}
		if i == 0 {
			return
		}
		o.lines = o.lines[i:]
		o.size = 0
		for _, l := range o.lines {
			o.size += len(l.json) + 1
		}
		o.uploaded = 0
	}
	// pending[0] is the object being stored: trim it in place so that
	// store's loop sees what is left; drop later objects that emptied.
	kept := p.pending[:0]
	for i, o := range p.pending {
		drop(o)
		if len(o.lines) > 0 || i == 0 {
			kept = append(kept, o)
		}
	}
	p.pending = kept
	if p.cur != nil {
		drop(p.cur)
		if len(p.cur.lines) == 0 {
			p.cur = nil
		}
	}
}

// endOffset reads the end offset from the metadata of the object at key.
func (p *partitionWriter) endOffset(ctx context.Context, key string) (int64, error) {
	out, err := p.s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(p.s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return 0, p.s.explain(err, key)
	}
	v, ok := out.Metadata[MetaEndOffset]
	if !ok {
		return 0, &sinks.Permanent{Err: fmt.Errorf("s3 sink: object %q is in the way of partition %d's chain and has no %s metadata: it was not written by logstream; move it", key, p.partition, MetaEndOffset)}
	}
	end, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &sinks.Permanent{Err: fmt.Errorf("s3 sink: object %q has %s metadata %q, not an offset", key, MetaEndOffset, v)}
	}
	return end, nil
}

// key is o's object key: its first record's hour and offset.
func (p *partitionWriter) key(o *object) string {
	t := time.Unix(o.lines[0].hour*3600, 0).UTC()
	ext := ".ndjson.gz"
	if p.s.cfg.Format == FormatParquet {
		ext = ".parquet"
	}
	return p.s.join("topic="+p.topic, "dt="+t.Format("2006-01-02"), "hour="+t.Format("15"),
		fmt.Sprintf("%s+%d+%020d%s", p.topic, p.partition, o.first(), ext))
}

// put uploads o, with If-None-Match: * when conditional.
func (p *partitionWriter) put(ctx context.Context, o *object, conditional bool) error {
	body, err := p.encode(o)
	if err != nil {
		return err
	}
	key := p.key(o)
	in := &s3.PutObjectInput{
		Bucket:        aws.String(p.s.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		Metadata: map[string]string{
			MetaStartOffset: strconv.FormatInt(o.first(), 10),
			MetaEndOffset:   strconv.FormatInt(o.last(), 10),
			MetaRecords:     strconv.Itoa(len(o.lines)),
			MetaTopic:       p.topic,
			MetaPartition:   strconv.Itoa(int(p.partition)),
		},
	}
	if p.s.cfg.Format == FormatParquet {
		in.ContentType = aws.String("application/vnd.apache.parquet")
	} else {
		in.ContentType = aws.String("application/x-ndjson")
		in.ContentEncoding = nil // the .gz is the object, not a transfer encoding
	}
	if conditional {
		in.IfNoneMatch = aws.String("*")
	}
	start := time.Now()
	if _, err := p.s.client.PutObject(ctx, in); err != nil {
		if isPreconditionFailed(err) {
			return err
		}
		return p.s.explain(err, key)
	}
	p.latency.Observe(time.Since(start).Seconds())
	p.objects.Inc()
	p.records.Add(float64(len(o.lines)))
	p.bytes.Add(float64(len(body)))
	return nil
}

// encode returns o's body. It is rebuilt on every attempt: objects are
// small enough, and a retry after a conflict has fewer lines.
func (p *partitionWriter) encode(o *object) ([]byte, error) {
	if p.s.cfg.Format == FormatParquet {
		return encodeParquet(p.topic, p.partition, o.lines)
	}
	var buf bytes.Buffer
	buf.Grow(o.size / 4)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	// A fixed header (no name, no modification time) keeps a replay's
	// object byte-identical, which deterministic mode relies on.
	for _, l := range o.lines {
		zw.Write(l.json)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("s3 sink: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// Committable is the first offset not yet in the store: the first line of
// the first object not stored (the current one counts even after a
// partial upload), else the offset after the last record added or
// skipped.
func (p *partitionWriter) Committable() int64 {
	for _, o := range p.pending {
		if len(o.lines) > 0 {
			return o.first()
		}
	}
	if p.cur != nil && len(p.cur.lines) > 0 {
		return p.cur.first()
	}
	// Past everything added, and past what an object in our way holds
	// even if those records have not been read yet: a commit must land on
	// a point of the chain (an object's end + 1), or the next owner would
	// start an object in the middle of one that exists.
	if last := max(p.lastAdded, p.skipThrough); last >= 0 {
		return last + 1
	}
	return -1
}

func (p *partitionWriter) Close() { p.cur, p.pending = nil, nil }
