package state

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lovoo/goka/storage"
)

// Registry remembers the local store of each partition of one group table,
// so that a stage can walk its own keys. goka hands a callback only the
// value of the key it is processing; expiring state (dedupe's ids past
// their TTL, the trace join's closed traces) needs to find keys nobody is
// writing to any more.
type Registry struct {
	base  storage.Builder
	table string

	mu     sync.Mutex
	parts  map[int32]*tracked
	due    map[int32]*dueIndex // per open store: when each key has work
	staged map[int32][]string  // keys of the visit under way (see stage)
	// maxHeld and kick: Note signals kick when a partition holds more
	// than maxHeld (see Sweeper.MaxHeld).
	maxHeld int
	kick    chan struct{}
}

// Track wraps base; stores of table are registered, other topics' pass
// through untouched.
func Track(base storage.Builder, table string) *Registry {
	return &Registry{base: base, table: table, parts: map[int32]*tracked{}, due: map[int32]*dueIndex{}}
}

// Builder is the storage builder to give goka.
func (r *Registry) Builder() storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		st, err := r.base(topic, partition)
		if err != nil || topic != r.table {
			return st, err
		}
		t := &tracked{Storage: st, r: r, partition: partition}
		r.mu.Lock()
		r.parts[partition] = t
		r.due[partition] = newDueIndex()
		r.mu.Unlock()
		return t, nil
	}
}

// Partitions returns the partitions whose stores are open, in order.
func (r *Registry) Partitions() []int32 {
	r.mu.Lock()
	out := make([]int32, 0, len(r.parts))
	for p := range r.parts {
		out = append(out, p)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Scan calls fn for every key of the partition's store, on a snapshot;
// fn returning false stops the walk. A partition without an open store
// scans nothing.
func (r *Registry) Scan(partition int32, fn func(key string, value []byte) bool) error {
	r.mu.Lock()
	t := r.parts[partition]
	r.mu.Unlock()
	if t == nil {
		return nil
	}
	it, err := t.Storage.Iterator()
	if err != nil {
		return fmt.Errorf("state: %s/%d: %w", r.table, partition, err)
	}
	defer it.Release()
	for it.Next() {
		if string(it.Key()) == offsetKey {
			continue
		}
		v, err := it.Value()
		if err != nil {
			return fmt.Errorf("state: %s/%d: %w", r.table, partition, err)
		}
		if !fn(string(it.Key()), v) {
			break
		}
	}
	return it.Err()
}

// offsetKey is where goka's stores keep their table offset.
const offsetKey = "__offset"

type tracked struct {
	storage.Storage
	r         *Registry
	partition int32
	recovered time.Time // when goka finished recovering it; zero before
}

// MarkRecovered is goka's signal that the store caught up with the table
// topic: from then on this pod processes the partition.
func (t *tracked) MarkRecovered() error {
	err := t.Storage.MarkRecovered()
	t.r.mu.Lock()
	t.recovered = time.Now()
	t.r.mu.Unlock()
	return err
}

// Recovered returns when the partition's open store finished recovering;
// ok is false while it recovers, or when the partition is not open here.
func (r *Registry) Recovered(partition int32) (at time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.parts[partition]
	if t == nil || t.recovered.IsZero() {
		return time.Time{}, false
	}
	return t.recovered, true
}

func (t *tracked) Close() error {
	t.r.mu.Lock()
	if t.r.parts[t.partition] == t {
		delete(t.r.parts, t.partition)
		delete(t.r.due, t.partition)
	}
	t.r.mu.Unlock()
	return t.Storage.Close()
}
