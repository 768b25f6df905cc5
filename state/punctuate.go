package state

import (
	"container/heap"
	"sort"
	"sync"

	"github.com/lovoo/goka/storage"
)

// VisitName is the name of the goka.Visitor edge a swept stage declares:
// the sweeper runs it through Processor.VisitAll on the keys that are due.
const VisitName = "sweep"

// Phase of a visit.
type Phase int

const (
	// VisitDue visits the keys whose Due says they have work now.
	VisitDue Phase = iota
	// VisitMarked visits the keys holding output that an earlier visit
	// decided and wrote into the key's state, but that is not yet emitted
	// (Due.Marked), in the order of their marks. A stage that emits from
	// visits does it in two steps so that a crash cannot double the
	// output: a visit has no input offset to replay, so the decision must
	// be durable (the first visit's table write acknowledged) before the
	// output goes out under the mark's identity.
	VisitMarked
)

// Visit is the meta the sweeper hands each visit callback.
type Visit struct {
	Phase Phase
	// Timers holds what each partition's visits decide with: its stream
	// time and the group's committed offsets when the sweep began. A
	// callback must not delete state that a record not yet committed may
	// touch again.
	Timers map[int32]Timer
	// Bound holds, for a partition that holds more than the sweeper's
	// MaxHeld, the stream time up to which its visits release what waits
	// (Due.At at most Bound) although the partition's stream time has not
	// come that far: the oldest waiting items go first.
	Bound map[int32]int64
}

// Bound returns the partition's release time under the bound (ok false:
// the partition is within it).
func (v *Visit) BoundOf(partition int32) (int64, bool) {
	if v == nil {
		return 0, false
	}
	b, ok := v.Bound[partition]
	return b, ok
}

// Timer returns the timer of a partition.
func (v *Visit) Timer(partition int32) (Timer, bool) {
	if v == nil {
		return Timer{}, false
	}
	t, ok := v.Timers[partition]
	return t, ok
}

// Wait is an input record that must be committed before a key's work may
// be done (its state deleted): Topic "" waits for nothing.
type Wait struct {
	Topic  string
	Offset int64
}

// Due tells the sweeper when a key next has work: the stage notes it
// (Registry.Note) whenever it writes the key, so that a sweep visits
// exactly the keys whose visit will change something, and decodes
// nothing to find them.
type Due struct {
	// At is the stream time (ms) from which the key has work. Never is
	// math.MaxInt64.
	At int64
	// Waits must all be committed too.
	Waits [3]Wait
	// Marked, when not negative, says the key holds decided output not
	// yet emitted (see VisitMarked); visits of that phase go in the order
	// of Marked. -1: none.
	Marked int64
	// Held counts the items the key holds waiting, which the sweeper's
	// MaxHeld bounds per partition; At is then when the oldest of them is
	// due.
	Held int
}

// Ready reports whether d has work at t: the sweeper's test, which a visit
// callback can repeat on the key's current Due (Registry.Due) to see
// whether a record processed since the sweep began changed it.
func (d Due) Ready(t Timer) bool {
	if d.Marked >= 0 || d.At > t.StreamTime {
		return false
	}
	for _, w := range d.Waits {
		if w.Topic != "" && !t.IsCommitted(w.Topic, w.Offset) {
			return false
		}
	}
	return true
}

// dueIndex is the Due of every key of one partition's store.
type dueIndex struct {
	mu    sync.Mutex
	built bool // keys of the store from before this pod opened it are in
	// keys holds every key of the table (dedupe: every id of one TTL), so
	// it is a flatMap: nothing in it for the garbage collector to mark.
	keys *flatMap[dueEntry]
	// topics interns the Waits' topics (a stage has a few), so that an
	// entry holds a byte per topic, not a string: the index holds every
	// key of the table (dedupe: every id of one TTL).
	topics   []string
	topicIDs map[string]uint8
	held     int // sum of Held
	// byAt orders the keys' slots by At, so that a sweep reads the keys
	// due and not the whole index; an entry whose slot is free, or due at
	// another time since (its key's, or another key's that took the slot),
	// is skipped when it comes up: the entry only says when to look.
	byAt atHeap
	// marked holds the slots of the keys with Marked set.
	marked map[int32]int64
}

func newDueIndex() *dueIndex {
	return &dueIndex{keys: newFlatMap[dueEntry](), marked: map[int32]int64{}, topicIDs: map[string]uint8{}}
}

// dueEntry is a Due as the index holds it.
type dueEntry struct {
	At, Marked int64
	offsets    [3]int64
	Held       int32
	topics     [3]uint8 // 1 + index in dueIndex.topics; 0: no wait
}

func (ix *dueIndex) pack(d Due) dueEntry {
	e := dueEntry{At: d.At, Marked: d.Marked, Held: int32(d.Held)}
	for i, w := range d.Waits {
		if w.Topic == "" {
			continue
		}
		id, ok := ix.topicIDs[w.Topic]
		if !ok {
			if len(ix.topics) == 255 {
				panic("state: more than 255 topics in Due.Waits")
			}
			ix.topics = append(ix.topics, w.Topic)
			id = uint8(len(ix.topics))
			ix.topicIDs[w.Topic] = id
		}
		e.topics[i], e.offsets[i] = id, w.Offset
	}
	return e
}

func (ix *dueIndex) unpack(e dueEntry) Due {
	d := Due{At: e.At, Marked: e.Marked, Held: int(e.Held)}
	for i, id := range e.topics {
		if id != 0 {
			d.Waits[i] = Wait{Topic: ix.topics[id-1], Offset: e.offsets[i]}
		}
	}
	return d
}

func (ix *dueIndex) set(key string, due Due) {
	s, isNew := ix.keys.put(key, nil, false)
	e := ix.keys.val(s)
	old, had := *e, !isNew
	d := ix.pack(due)
	ix.held += int(d.Held) - int(old.Held)
	*e = d
	switch {
	case d.Marked >= 0:
		ix.marked[s] = d.Marked
	case had && old.Marked >= 0:
		delete(ix.marked, s)
	}
	if d.Marked < 0 && (!had || old.At != d.At || old.Marked >= 0) {
		heap.Push(&ix.byAt, atEntry{d.At, s})
	}
}

func (ix *dueIndex) get(key string) (dueEntry, bool) {
	if s, ok := ix.keys.find(key); ok {
		return *ix.keys.val(s), true
	}
	return dueEntry{}, false
}

func (ix *dueIndex) del(key string) {
	s, ok := ix.keys.find(key)
	if !ok {
		return
	}
	ix.held -= int(ix.keys.val(s).Held)
	ix.keys.del(s)
	delete(ix.marked, s)
}

// atEntry: look at slot at at.
type atEntry struct {
	at   int64
	slot int32
}

// atHeap is a min-heap of entries by at (container/heap).
type atHeap []atEntry

func (h atHeap) Len() int           { return len(h) }
func (h atHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h atHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *atHeap) Push(x any)        { *h = append(*h, x.(atEntry)) }
func (h *atHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (r *Registry) index(partition int32) *dueIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.due[partition]
}

// Note records when key next has work. A partition whose store is not open
// here ignores it.
func (r *Registry) Note(partition int32, key string, d Due) {
	if r == nil {
		return
	}
	if ix := r.index(partition); ix != nil {
		ix.mu.Lock()
		ix.set(key, d)
		over := r.maxHeld > 0 && ix.held > r.maxHeld
		ix.mu.Unlock()
		if over {
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}
	}
}

// bound makes Note signal on the returned channel when a partition holds
// more than maxHeld (see Sweeper.MaxHeld).
func (r *Registry) bound(maxHeld int) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxHeld = maxHeld
	if r.kick == nil {
		r.kick = make(chan struct{}, 1)
	}
	return r.kick
}

// Held returns the items held waiting on a partition (the sum of the
// noted Due.Held).
func (r *Registry) Held(partition int32) int {
	ix := r.index(partition)
	if ix == nil {
		return 0
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.held
}

// boundCutoff returns, for a partition holding more than maxHeld, the
// Due.At up to which the oldest waiting keys must be released to come
// back within it, and how many items that releases.
func (r *Registry) boundCutoff(partition int32, maxHeld int) (int64, int, bool) {
	ix := r.index(partition)
	if ix == nil || maxHeld <= 0 {
		return 0, 0, false
	}
	type waiting struct {
		at   int64
		held int
	}
	ix.mu.Lock()
	excess := ix.held - maxHeld
	if excess <= 0 {
		ix.mu.Unlock()
		return 0, 0, false
	}
	ws := make([]waiting, 0, 1024)
	ix.keys.each(func(s int32) bool {
		if d := ix.keys.val(s); d.Held > 0 && d.Marked < 0 {
			ws = append(ws, waiting{d.At, int(d.Held)})
		}
		return true
	})
	ix.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].at < ws[j].at })
	released := 0
	for _, w := range ws {
		released += w.held
		if released >= excess {
			return w.at, released, true
		}
	}
	if len(ws) == 0 {
		return 0, 0, false
	}
	return ws[len(ws)-1].at, released, true
}

// Due returns what was last noted for key (ok false: nothing).
func (r *Registry) Due(partition int32, key string) (Due, bool) {
	if r == nil {
		return Due{}, false
	}
	ix := r.index(partition)
	if ix == nil {
		return Due{}, false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.get(key)
	if !ok {
		return Due{}, false
	}
	return ix.unpack(e), true
}

// Forget drops key (deleted, or without work ever again).
func (r *Registry) Forget(partition int32, key string) {
	if r == nil {
		return
	}
	if ix := r.index(partition); ix != nil {
		ix.mu.Lock()
		ix.del(key)
		ix.mu.Unlock()
	}
}

// build adds, once per opening of the partition's store, the Due of every
// stored key that no callback has noted since: keys recovered from the
// table topic or from a local store of a previous run. It decodes each
// value once, with dueOf.
func (r *Registry) build(partition int32, dueOf func(key string, value []byte) (Due, bool)) error {
	ix := r.index(partition)
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	built := ix.built
	ix.mu.Unlock()
	if built {
		return nil
	}
	err := r.Scan(partition, func(key string, value []byte) bool {
		d, ok := dueOf(key, value)
		if !ok {
			return true
		}
		ix.mu.Lock()
		if _, noted := ix.keys.find(key); !noted {
			ix.set(key, d)
		}
		ix.mu.Unlock()
		return true
	})
	if err != nil {
		return err
	}
	ix.mu.Lock()
	ix.built = true
	ix.mu.Unlock()
	return nil
}

// dueKeys returns the keys of a partition to visit in phase at t (and,
// with a bound, the waiting keys due by then), in visiting order, and the
// partition's number of indexed keys. It reads the keys due by time (and
// those waiting for a commit), not the whole index.
func (r *Registry) dueKeys(partition int32, phase Phase, t Timer, bound int64, bounded bool) ([]string, int) {
	ix := r.index(partition)
	if ix == nil {
		return nil, 0
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := ix.keys.Len()
	if phase == VisitMarked {
		type marked struct {
			key  string
			mark int64
		}
		marks := make([]marked, 0, len(ix.marked))
		for s, m := range ix.marked {
			marks = append(marks, marked{ix.keys.key(s), m})
		}
		sort.Slice(marks, func(i, j int) bool {
			if marks[i].mark != marks[j].mark {
				return marks[i].mark < marks[j].mark
			}
			return marks[i].key < marks[j].key
		})
		keys := make([]string, len(marks))
		for i, m := range marks {
			keys[i] = m.key
		}
		return keys, n
	}
	limit := t.StreamTime
	if bounded && bound > limit {
		limit = bound
	}
	var keys []string
	var back []atEntry
	seen := map[int32]bool{}
	for len(ix.byAt) > 0 && ix.byAt[0].at <= limit {
		e := heap.Pop(&ix.byAt).(atEntry)
		if !ix.keys.inUse(e.slot) || seen[e.slot] {
			continue // gone, or a copy
		}
		d := *ix.keys.val(e.slot)
		if d.At != e.at || d.Marked >= 0 {
			continue // due at another time since: another entry says when
		}
		seen[e.slot] = true
		if ix.unpack(d).Ready(t) || bounded && d.Held > 0 && d.At <= bound {
			// Out of the heap while it is visited; requeue puts it back
			// if the visit neither deletes nor notes it.
			keys = append(keys, ix.keys.key(e.slot))
			continue
		}
		back = append(back, e) // due by time, waiting for a commit
	}
	for _, e := range back {
		heap.Push(&ix.byAt, e)
	}
	sort.Strings(keys)
	return keys, n
}

// requeue puts visited keys back in the time order, unless their visit
// deleted them (or noted them anew, which queued them).
func (r *Registry) requeue(partition int32, keys []string) {
	ix := r.index(partition)
	if ix == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, k := range keys {
		if s, ok := ix.keys.find(k); ok {
			if d := ix.keys.val(s); d.Marked < 0 {
				heap.Push(&ix.byAt, atEntry{d.At, s})
			}
		}
	}
}

// stage makes the next Iterator of each partition's store (goka's
// VisitValues asks for one per partition) yield the given keys only, and
// every other partition's nothing, until unstage: a visit then costs the
// due keys, not the table.
func (r *Registry) stage(keys map[int32][]string) {
	r.mu.Lock()
	r.staged = keys
	r.mu.Unlock()
}

func (r *Registry) unstage() {
	r.mu.Lock()
	r.staged = nil
	r.mu.Unlock()
}

// Iterator is the store's iterator, or the staged keys during a sweep's
// visit.
func (t *tracked) Iterator() (storage.Iterator, error) {
	t.r.mu.Lock()
	if t.r.staged != nil {
		keys := t.r.staged[t.partition]
		delete(t.r.staged, t.partition)
		t.r.mu.Unlock()
		return &keyIterator{st: t.Storage, keys: keys, i: -1}, nil
	}
	t.r.mu.Unlock()
	return t.Storage.Iterator()
}

// keyIterator walks a list of keys of a store.
type keyIterator struct {
	st   storage.Storage
	keys []string
	i    int
}

func (it *keyIterator) Next() bool {
	it.i++
	return it.i < len(it.keys)
}
func (it *keyIterator) Err() error             { return nil }
func (it *keyIterator) Key() []byte            { return []byte(it.keys[it.i]) }
func (it *keyIterator) Value() ([]byte, error) { return it.st.Get(it.keys[it.i]) }
func (it *keyIterator) Release()               {}
func (it *keyIterator) Seek(key []byte) bool {
	it.i = sort.SearchStrings(it.keys, string(key)) - 1
	return it.i+1 < len(it.keys)
}
