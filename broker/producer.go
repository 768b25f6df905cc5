package broker

import (
	"context"
	"fmt"
	"hash"
	"time"

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
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
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
	}
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
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, 0, len(headers))
		for k, v := range headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
	}
	p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			finish(nil, fmt.Errorf("broker: writing to %s: %w", r.Topic, err))
			return
		}
		// goka reads the partition and offset of a table write.
		finish(&sarama.ProducerMessage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, nil)
	})
	return promise
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
