package broker

import (
	"context"
	"fmt"
	"hash"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// producer is goka's Producer on a franz-go client: every stage's emits
// and table writes go through it. goka's own producer (sarama's
// AsyncProducer) passes each message through four goroutines and
// channels and was 13% of the whole pipeline's CPU in a pipebench -full
// profile; franz-go batches per partition in the caller's goroutine.
//
// The guarantees the stages rely on are kept: the client is idempotent
// with acks from all in-sync replicas, so the broker keeps each
// partition's records in the order they were produced, across retries
// (the exactly-once fence reads an output's last record as "everything
// before it landed"); keys are placed as goka places them (sarama's hash
// partitioner over goka's hasher, as topology.Partitioner does); a table
// write's promise
// carries the offset it landed at, which goka stores beside the value.
type producer struct {
	cl *kgo.Client
}

// newProducer returns a goka Producer writing with t's settings, placing
// keys with hasher as sarama's hash partitioner does.
func newProducer(brokers []string, clientID string, hasher func() hash.Hash32, t Tuning) (goka.Producer, error) {
	opts := append(t.ClientOpts(brokers),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(hashPartitioner(hasher)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(t.KgoCompression()),
		// A stage that writes little (the errorrate windows, the
		// alerter) sends at once; busy stages fill batches while a
		// request is in flight.
		kgo.ProducerLinger(0),
		// Backpressure: a callback's Emit waits while this many records
		// are unacknowledged.
		kgo.MaxBufferedRecords(max(10*t.BatchSize, 10000)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: producer: %w", err)
	}
	return &producer{cl: cl}, nil
}

func (p *producer) Emit(topic string, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

func (p *producer) EmitWithHeaders(topic string, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	// One allocation for the record, the message goka reads the offset of
	// a table write from, and the finisher: this runs for every table
	// write. Headers (rare here: the stages write their records with
	// headers through Direct) get their own.
	e := &gokaEmit{finish: finish}
	e.rec.Topic, e.rec.Key, e.rec.Value = topic, keyBytes(key), value
	if len(headers) > 0 {
		e.rec.Headers = make([]kgo.RecordHeader, 0, len(headers))
		for k, v := range headers {
			e.rec.Headers = append(e.rec.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
	}
	p.cl.Produce(context.Background(), &e.rec, gokaEmitDone)
	return promise
}

// gokaEmit is one goka emit in flight; rec comes first, so that the
// callback finds the gokaEmit from the record franz-go hands back.
type gokaEmit struct {
	rec    kgo.Record
	msg    sarama.ProducerMessage
	finish goka.PromiseFinisher
}

func gokaEmitDone(r *kgo.Record, err error) {
	e := (*gokaEmit)(unsafe.Pointer(r))
	if err != nil {
		e.finish(nil, fmt.Errorf("broker: writing to %s: %w", r.Topic, err))
		return
	}
	// goka reads the partition and offset of a table write.
	e.msg.Topic, e.msg.Partition, e.msg.Offset = r.Topic, r.Partition, r.Offset
	e.finish(&e.msg, nil)
}

// keyBytes is key as bytes without a copy: franz-go only reads a record's
// key. An empty key stays a non-nil empty slice: the partitioner sends
// nil keys round-robin, and goka's emits hash every key, "" too.
func keyBytes(key string) []byte {
	if key == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(key), len(key))
}

// Direct sends a goka processor's records through the producer goka built
// for it, without ctx.Emit. ctx.Emit copies a record's headers into two
// new maps (goka merges the option's headers and then the processor's
// default ones) and the producer turns the map into a slice again: the
// stages write every record they read with three to six headers, and
// paid that on every one. The input record is still committed only once
// the record has landed: Send holds the commit with ctx.DeferCommit as
// ctx.Emit holds it with its emit counter, and a failed write fails the
// processor as a failed emit does. Records go through the same client as
// the processor's other emits and table writes, in call order.
//
// A Direct whose processor was not built with its Option (goka's tester)
// is not Ready; callers then emit through ctx.
type Direct struct{ p atomic.Pointer[producer] }

// Option builds the processor's producer as ProcessorOptions does, and
// keeps it for d. It must come after ProcessorOptions' options.
func (d *Direct) Option(t Tuning) goka.ProcessorOption {
	return goka.WithProducerBuilder(func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		p, err := newProducer(brokers, clientID, hasher, t)
		if err != nil {
			return nil, err
		}
		d.p.Store(p.(*producer))
		return p, nil
	})
}

// Ready reports whether d has its processor's producer.
func (d *Direct) Ready() bool { return d != nil && d.p.Load() != nil }

// DirectRecord is a record to Send, with room for its headers in the
// same allocation.
type DirectRecord struct {
	kgo.Record // first: the callback finds the DirectRecord from it
	done       func(error)
	hdr        [8]kgo.RecordHeader
}

// Record returns a record of value under key for topic; append its
// headers to Headers.
func (d *Direct) Record(topic, key string, value []byte) *DirectRecord {
	r := &DirectRecord{}
	r.Topic, r.Key, r.Value = topic, keyBytes(key), value
	r.Headers = r.hdr[:0]
	return r
}

// SendRecord writes value under key to topic with headers hs (copied)
// from ctx's callback.
func (d *Direct) SendRecord(ctx goka.Context, topic, key string, value []byte, hs []kgo.RecordHeader) {
	r := d.Record(topic, key, value)
	r.Headers = append(r.Headers, hs...)
	d.Send(ctx, r)
}

// HeaderMap is hs as goka's headers, for a stage that builds its headers
// as a record's and writes through ctx when it has no Direct (nil for
// none).
func HeaderMap(hs []kgo.RecordHeader) goka.Headers {
	if len(hs) == 0 {
		return nil
	}
	h := make(goka.Headers, len(hs))
	for _, x := range hs {
		h[x.Key] = x.Value
	}
	return h
}

// Send writes r from ctx's callback.
func (d *Direct) Send(ctx goka.Context, r *DirectRecord) {
	r.done = ctx.DeferCommit()
	d.p.Load().cl.Produce(context.Background(), &r.Record, directDone)
}

func directDone(rec *kgo.Record, err error) {
	r := (*DirectRecord)(unsafe.Pointer(rec))
	if err != nil {
		err = fmt.Errorf("broker: writing to %s: %w", rec.Topic, err)
	}
	r.done(err)
}

// Close waits up to a minute for what is buffered, as goka's own producer
// does, then closes the client (failing what is left).
func (p *producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("broker: producer: flushing at close: %w", err)
	}
	return nil
}

// hashPartitioner places a record as sarama's hash partitioner does with
// goka's hasher: the hash's 32 bits as a signed number, modulo the
// partitions, negated when negative. Records without a key go round-robin.
func hashPartitioner(hasher func() hash.Hash32) kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(r *kgo.Record, n int) int {
		h := hasher()
		var next int
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				next++
				return next % n
			}
			h.Reset()
			h.Write(r.Key)
			p := int32(h.Sum32()) % int32(n)
			if p < 0 {
				p = -p
			}
			return int(p)
		}
	})
}
