package state

import (
	"bytes"
	"sort"
	"sync"

	"github.com/lovoo/goka/storage"
)

// Memory returns a storage builder of in-memory stores. goka's own memory
// store keeps a sorted slice of keys and re-sorts it on every new key, which
// makes a table of a million keys (dedupe's ids inside the TTL) take
// minutes to fill; this one is a hash index over byte chunks (flatMap),
// which the garbage collector does not have to walk, and sorts only a
// snapshot of the keys when an iterator is asked for.
func Memory() storage.Builder {
	return func(string, int32) (storage.Storage, error) { return newMemory(), nil }
}

type memory struct {
	mu        sync.RWMutex
	m         *flatMap[struct{}]
	offset    int64
	hasOffset bool
}

func newMemory() *memory { return &memory{m: newFlatMap[struct{}]()} }

func (s *memory) Open() error          { return nil }
func (s *memory) Close() error         { return nil }
func (s *memory) MarkRecovered() error { return nil }

func (s *memory) Has(key string) (bool, error) {
	s.mu.RLock()
	_, ok := s.m.find(key)
	s.mu.RUnlock()
	return ok, nil
}

// Get returns the stored bytes themselves, not a copy: they are never
// changed in place (see flatMap), and goka's codecs copy what they keep.
func (s *memory) Get(key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i, ok := s.m.find(key); ok {
		return s.m.bytes(i), nil
	}
	return nil, nil
}

// Set copies value: the caller may reuse it.
func (s *memory) Set(key string, value []byte) error {
	s.mu.Lock()
	s.m.put(key, value, true)
	s.mu.Unlock()
	return nil
}

func (s *memory) Delete(key string) error {
	s.mu.Lock()
	if i, ok := s.m.find(key); ok {
		s.m.del(i)
	}
	s.mu.Unlock()
	return nil
}

func (s *memory) GetOffset(def int64) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.hasOffset {
		return def, nil
	}
	return s.offset, nil
}

func (s *memory) SetOffset(offset int64) error {
	s.mu.Lock()
	s.offset, s.hasOffset = offset, true
	s.mu.Unlock()
	return nil
}

func (s *memory) Iterator() (storage.Iterator, error) { return s.IteratorWithRange(nil, nil) }

// IteratorWithRange iterates a snapshot of the keys in [start, limit); the
// values are read when visited, so a key deleted meanwhile is skipped.
func (s *memory) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	s.mu.RLock()
	keys := make([]string, 0, s.m.Len())
	s.m.each(func(i int32) bool {
		k := s.m.keyBytes(i)
		if start != nil && string(k) < string(start) || limit != nil && string(k) >= string(limit) {
			return true
		}
		keys = append(keys, string(k))
		return true
	})
	s.mu.RUnlock()
	sort.Strings(keys)
	return &memIter{s: s, keys: keys, i: -1}, nil
}

type memIter struct {
	s    *memory
	keys []string
	i    int
	val  []byte
}

func (it *memIter) Next() bool {
	for it.i++; it.i < len(it.keys); it.i++ {
		it.s.mu.RLock()
		i, ok := it.s.m.find(it.keys[it.i])
		if ok {
			it.val = it.s.m.bytes(i)
		}
		it.s.mu.RUnlock()
		if ok {
			return true
		}
	}
	return false
}

func (it *memIter) Err() error { return nil }

func (it *memIter) Key() []byte {
	if it.i < 0 || it.i >= len(it.keys) {
		return nil
	}
	return []byte(it.keys[it.i])
}

func (it *memIter) Value() ([]byte, error) {
	if it.i < 0 || it.i >= len(it.keys) {
		return nil, nil
	}
	return it.val, nil
}

func (it *memIter) Release() { it.i = len(it.keys) }

func (it *memIter) Seek(key []byte) bool {
	n := sort.Search(len(it.keys), func(i int) bool { return bytes.Compare([]byte(it.keys[i]), key) >= 0 })
	it.i = n - 1
	return n < len(it.keys)
}
