package state

import (
	"encoding/binary"
	"hash/maphash"
	"unsafe"
)

// flatMap maps string keys to a byte string and a fixed-size value V, and
// keeps all of it where the garbage collector does not have to look: keys
// and bytes are records in large byte chunks, V lives in one slice of
// slots, and the index is a map from a 64-bit hash of the key to its slot.
// None of these hold pointers (V must not either), so a table of a million
// keys is a few hundred objects to the collector rather than millions. With
// a map[string][]byte, marking the stages' tables every cycle was the
// largest single cost of the whole pipeline.
//
// Records are written once and never changed in place: a new value is a
// new record and the old one becomes garbage, reclaimed by compaction
// when garbage outweighs the live records. So a byte slice handed out by
// bytes stays valid (and unchanged) for as long as its holder keeps it.
//
// flatMap is not safe for concurrent use.
type flatMap[V any] struct {
	seed maphash.Seed
	hash func(maphash.Seed, string) uint64 // maphash.String; tests force collisions
	idx  map[uint64]int32
	// coll holds the keys whose hash another key held in idx when they
	// came: with a random 64-bit hash a million keys collide about once in
	// ten million tables, but a collision must not lose a key.
	coll map[string]int32
	// slots in pages of flatPage: a table of a million keys grows by
	// pages, never by copying (and for a while doubling) one large slice.
	slots  [][]flatSlot[V]
	nslots int32
	free   []int32
	n      int

	chunks      [][]byte
	live, dead  int // bytes of records in use and of garbage
	compactions int
}

type flatSlot[V any] struct {
	ref  uint64 // chunk<<32 | offset of the record
	used bool
	v    V
}

const (
	flatPageBits = 12
	flatPage     = 1 << flatPageBits
	flatChunk    = 1 << 20
	// flatMinGarbage: compaction waits for this much garbage at least, so
	// that a small table does not compact on every write.
	flatMinGarbage = 4 << 20
)

func newFlatMap[V any]() *flatMap[V] {
	return &flatMap[V]{seed: maphash.MakeSeed(), hash: maphash.String, idx: map[uint64]int32{}}
}

// Len returns the number of keys.
func (m *flatMap[V]) Len() int { return m.n }

func (m *flatMap[V]) record(ref uint64) (key, b []byte) { return recordIn(m.chunks, ref) }

func recordIn(chunks [][]byte, ref uint64) (key, b []byte) {
	c := chunks[ref>>32]
	off := int(uint32(ref))
	kl, n1 := binary.Uvarint(c[off:])
	bl, n2 := binary.Uvarint(c[off+n1:])
	start := off + n1 + n2
	k := start + int(kl)
	e := k + int(bl)
	return c[start:k:k], c[k:e:e]
}

func recordSize(klen, blen int) int {
	return uvarintLen(uint64(klen)) + uvarintLen(uint64(blen)) + klen + blen
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// write appends a record and returns its ref.
func (m *flatMap[V]) write(key string, b []byte) uint64 {
	size := recordSize(len(key), len(b))
	last := len(m.chunks) - 1
	if last < 0 || cap(m.chunks[last])-len(m.chunks[last]) < size {
		m.chunks = append(m.chunks, make([]byte, 0, max(flatChunk, size)))
		last++
	}
	c := m.chunks[last]
	off := len(c)
	c = binary.AppendUvarint(c, uint64(len(key)))
	c = binary.AppendUvarint(c, uint64(len(b)))
	c = append(c, key...)
	c = append(c, b...)
	m.chunks[last] = c
	m.live += size
	return uint64(last)<<32 | uint64(off)
}

func (m *flatMap[V]) forget(ref uint64) {
	k, b := m.record(ref)
	size := recordSize(len(k), len(b))
	m.live -= size
	m.dead += size
}

// slot returns slot s.
func (m *flatMap[V]) slot(s int32) *flatSlot[V] { return &m.slots[s>>flatPageBits][s&(flatPage-1)] }

// newSlot returns a slot never used yet.
func (m *flatMap[V]) newSlot() int32 {
	if int(m.nslots) == len(m.slots)*flatPage {
		m.slots = append(m.slots, make([]flatSlot[V], flatPage))
	}
	m.nslots++
	return m.nslots - 1
}

// find returns the slot of key.
func (m *flatMap[V]) find(key string) (int32, bool) {
	if s, ok := m.idx[m.hash(m.seed, key)]; ok {
		if k, _ := m.record(m.slot(s).ref); string(k) == key {
			return s, true
		}
	}
	if len(m.coll) > 0 {
		s, ok := m.coll[key]
		return s, ok
	}
	return 0, false
}

// put sets key's bytes to b (when setBytes, or when key is new) and
// returns its slot and whether it is new. A new key's V is the zero V.
func (m *flatMap[V]) put(key string, b []byte, setBytes bool) (int32, bool) {
	if s, ok := m.find(key); ok {
		if setBytes {
			sl := m.slot(s)
			m.forget(sl.ref)
			sl.ref = m.write(key, b)
			m.compact()
		}
		return s, false
	}
	var s int32
	if n := len(m.free); n > 0 {
		s, m.free = m.free[n-1], m.free[:n-1]
	} else {
		s = m.newSlot()
	}
	*m.slot(s) = flatSlot[V]{ref: m.write(key, b), used: true}
	h := m.hash(m.seed, key)
	if _, taken := m.idx[h]; taken {
		if m.coll == nil {
			m.coll = map[string]int32{}
		}
		m.coll[key] = s
	} else {
		m.idx[h] = s
	}
	m.n++
	return s, true
}

// del removes the key of slot s.
func (m *flatMap[V]) del(s int32) {
	sl := m.slot(s)
	k, _ := m.record(sl.ref)
	h := m.hash(m.seed, unsafeString(k))
	if i, ok := m.idx[h]; ok && i == s {
		delete(m.idx, h)
	} else {
		delete(m.coll, string(k))
	}
	m.forget(sl.ref)
	*sl = flatSlot[V]{}
	m.free = append(m.free, s)
	m.n--
	m.compact()
}

// inUse reports whether slot s holds a key (a slot number from elsewhere,
// such as the due index's heap, may be out of range or freed since).
func (m *flatMap[V]) inUse(s int32) bool { return s >= 0 && s < m.nslots && m.slot(s).used }

// keyBytes returns the key of slot s without a copy (valid as long as the
// caller holds it, as bytes' result is).
func (m *flatMap[V]) keyBytes(s int32) []byte {
	k, _ := m.record(m.slot(s).ref)
	return k
}

// val returns the V of slot s, to read or change.
func (m *flatMap[V]) val(s int32) *V { return &m.slot(s).v }

// bytes returns the bytes of slot s; they stay as they are for as long as
// the caller holds them.
func (m *flatMap[V]) bytes(s int32) []byte {
	_, b := m.record(m.slot(s).ref)
	return b
}

// key returns the key of slot s, as a new string.
func (m *flatMap[V]) key(s int32) string { return string(m.keyBytes(s)) }

// each calls fn with every slot in use; fn must not add or delete keys.
func (m *flatMap[V]) each(fn func(s int32) bool) {
	for s := int32(0); s < m.nslots; s++ {
		if m.slot(s).used && !fn(s) {
			return
		}
	}
}

// compact copies the live records into fresh chunks once garbage
// reaches half of them, so that a table that is rewritten often (the
// join's traces, dedupe's ids) holds about one and a half times its live
// bytes at most (and twice, for a moment, while the old chunks wait for
// the collector). The cost is amortized: every byte copied was matched by
// half a byte of garbage written since the last compaction, and copying
// is a memmove, cheap beside the encoding that wrote the garbage. Old chunks go to the collector, or
// stay as long as a slice handed out by bytes points into them.
func (m *flatMap[V]) compact() {
	if m.dead < flatMinGarbage || 2*m.dead < m.live {
		return
	}
	old := m.chunks
	m.chunks, m.live, m.dead = nil, 0, 0
	m.compactions++
	for s := int32(0); s < m.nslots; s++ {
		sl := m.slot(s)
		if !sl.used {
			continue
		}
		k, b := recordIn(old, sl.ref)
		sl.ref = m.write(unsafeString(k), b)
	}
	// A table that shrank leaves a long tail of free slots: keep the
	// slots slice as it is (slot numbers are what the index holds).
}

// unsafeString is b as a string without a copy: only for bytes of a
// record, which are never changed.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
