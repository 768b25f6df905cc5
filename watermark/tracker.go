package watermark

import (
	"sort"
	"sync"
	"time"
)

// Tracker merges the stamps a partition (or a stage's key) receives into
// its watermark: the minimum of its channels' times, over the channels that
// are not idle. A Tracker is not safe for concurrent use; Partitions is.
type Tracker struct {
	n    int32
	idle time.Duration
	ch   map[string]*channel
	// groups are the topics whose n partitions are all expected channels:
	// a stamp from one partition of a topic says every partition of it
	// feeds this one (re-keying spreads each over all).
	groups map[string]bool
	// expect, when set, is the one topic whose stamps count: a stray
	// stamp of another (a record mirrored from elsewhere) must not make
	// its partitions expected, holding the watermark for ever.
	expect string
	// complete: every expected channel has been heard. It stays so (a
	// channel never becomes unknown again) until a group is added or the
	// channels are replaced, and spares missing() its walk on every record.
	complete bool
	wm       int64
	wokeAt   int64 // ms; when a channel woke while every other one was idle
}

type channel struct {
	kind  Kind
	time  int64
	seq   int64
	local bool
}

// NewTracker returns a tracker whose stamped topics have n partitions, and
// whose channels need idle (wall clock) after a wake-up before an idle
// stamp counts again.
func NewTracker(n int32, idle time.Duration) *Tracker {
	return &Tracker{n: n, idle: idle, ch: map[string]*channel{}, groups: map[string]bool{}}
}

// Expect makes topic the only one whose stamps count.
func (t *Tracker) Expect(topic string) { t.expect = topic }

// Observe applies stamps received at wall-clock time at (a record's
// timestamp, so that a replay decides the same), and returns the
// watermark after them.
func (t *Tracker) Observe(at time.Time, stamps ...Stamp) (int64, Kind) {
	applied := false
	var wm int64
	var k Kind
	for _, s := range stamps {
		topic, _, ok := SplitChannel(s.Channel)
		if !ok || t.expect != "" && topic != t.expect {
			continue
		}
		if !t.groups[topic] {
			t.groups[topic] = true
			t.complete = false
			// The stream carries stamps now (the first records of an
			// upgrade, say, did not): its partitions' own event times
			// stop counting, or the first would hold it for ever.
			for name, c := range t.ch {
				if c.local {
					delete(t.ch, name)
				}
			}
		}
		t.apply(s, false, at)
		// Every step counts: stamps read together with idle ones must
		// move the watermark before their channels go quiet.
		wm, k = t.Watermark()
		applied = true
	}
	if !applied {
		return t.Watermark()
	}
	return wm, k
}

// ObserveLocal applies an event time read from a record that carried no
// stamp: the partition it was read from is its own channel (its highest
// event time seen, as Kafka Streams' stream time), and does not make the
// topic's other partitions expected. Once the stream carries stamps, a
// record without (or with a stamp that did not parse) moves nothing.
func (t *Tracker) ObserveLocal(channelName string, eventTime, seq int64, at time.Time) (int64, Kind) {
	if len(t.groups) == 0 {
		t.apply(Stamp{Channel: channelName, Kind: Time, Time: eventTime, Seq: seq}, true, at)
	}
	return t.Watermark()
}

// MarkIdle declares a local channel idle (the caller measured it: no
// records for a while, and caught up).
func (t *Tracker) MarkIdle(channelName string, seq int64, at time.Time) {
	if c := t.ch[channelName]; c != nil && c.local {
		t.apply(Stamp{Channel: channelName, Kind: Idle, Seq: max(seq, c.seq)}, true, at)
	}
}

func (t *Tracker) apply(s Stamp, local bool, at time.Time) {
	c := t.ch[s.Channel]
	if c == nil {
		c = &channel{kind: Unknown, seq: -1 << 62, local: local}
		t.ch[s.Channel] = c
	}
	switch s.Kind {
	case Time:
		c.time = max(c.time, s.Time)
		switch {
		case c.kind == Unknown, c.kind != Idle && s.Seq >= c.seq:
			c.kind, c.seq = Time, max(c.seq, s.Seq)
		case c.kind == Idle && s.Seq > c.seq:
			// New data after the idle stamp: the channel woke up. (A
			// stamp at or below the idle stamp's position is a replay.)
			t.wake(c, at)
			c.kind, c.seq = Time, s.Seq
		}
	case Hold:
		if s.Seq >= c.seq {
			if c.kind == Idle {
				t.wake(c, at)
			}
			c.kind = Hold
			c.seq = s.Seq
		}
	case Idle:
		if s.Seq >= c.seq {
			c.time = max(c.time, s.Time)
			c.seq = s.Seq
			if t.wokeAt != 0 && at.UnixMilli()-t.wokeAt < t.idle.Milliseconds() {
				// Resynchronising after a wake-up: an idle stamp sent
				// before the wake may still be on its way.
				return
			}
			c.kind = Idle
		}
	}
}

// wake handles c leaving the idle (or unknown) state: if every other
// channel was idle, they all hold until they prove idle again.
func (t *Tracker) wake(c *channel, at time.Time) {
	if c.kind != Idle || !t.allIdle() {
		return
	}
	for _, d := range t.ch {
		if d != c && d.kind == Idle {
			d.kind = Hold
		}
	}
	t.wokeAt = at.UnixMilli()
}

// allIdle reports whether every expected channel is known and idle.
func (t *Tracker) allIdle() bool {
	if len(t.ch) == 0 || t.missing() {
		return false
	}
	for _, c := range t.ch {
		if c.kind != Idle {
			return false
		}
	}
	return true
}

// missing reports whether an expected channel has never been heard.
func (t *Tracker) missing() bool {
	if t.complete {
		return false
	}
	for g := range t.groups {
		for p := int32(0); p < t.n; p++ {
			c := t.ch[Channel(g, p)]
			if c == nil || c.kind == Unknown {
				return true
			}
		}
	}
	t.complete = true
	return false
}

// Watermark returns the watermark and its status: Time when it is the
// minimum over the active channels (it never goes back); Hold when a
// channel is unknown or holding (the value is the last one, frozen); Idle
// when every channel is idle (frozen too); Unknown before any stamp.
func (t *Tracker) Watermark() (int64, Kind) {
	if len(t.ch) == 0 {
		return t.wm, Unknown
	}
	if t.missing() {
		return t.wm, Hold
	}
	var (
		low, idleLow int64
		active, idle bool
	)
	for _, c := range t.ch {
		switch c.kind {
		case Hold, Unknown:
			return t.wm, Hold
		case Time:
			if !active || c.time < low {
				low = c.time
			}
			active = true
		case Idle:
			if c.time > 0 && (!idle || c.time < idleLow) {
				// A channel that never had a time (an empty partition)
				// vouches for nothing, and holds nothing back.
				idleLow = c.time
				idle = true
			}
		}
	}
	if !active {
		// Every channel is idle: the watermark stands, at the least of
		// the times they vouched for before they went quiet (stamps read
		// together with the idle ones may not have moved it yet).
		t.wm = max(t.wm, idleLow)
		return t.wm, Idle
	}
	t.wm = max(t.wm, low)
	return t.wm, Time
}

// Status counts the channels by kind, for metrics and queries.
func (t *Tracker) Status() (active, idle, holding int) {
	for g := range t.groups {
		for p := int32(0); p < t.n; p++ {
			if c := t.ch[Channel(g, p)]; c == nil {
				holding++
			}
		}
	}
	for _, c := range t.ch {
		switch c.kind {
		case Time:
			active++
		case Idle:
			idle++
		default:
			holding++
		}
	}
	return active, idle, holding
}

// ChannelState is one channel as a State holds it.
type ChannelState struct {
	Channel string
	Kind    Kind
	Time    int64
	Seq     int64
	Local   bool
}

// State is a Tracker's persistent form, kept in a stage's table so that a
// restart or a replay resumes from the same watermark.
type State struct {
	Channels  []ChannelState
	Groups    []string
	Watermark int64
	WokeAt    int64
}

// State returns the tracker's persistent form, channels sorted by name.
func (t *Tracker) State() State {
	s := State{Watermark: t.wm, WokeAt: t.wokeAt}
	for name, c := range t.ch {
		s.Channels = append(s.Channels, ChannelState{Channel: name, Kind: c.kind, Time: c.time, Seq: c.seq, Local: c.local})
	}
	sort.Slice(s.Channels, func(i, j int) bool { return s.Channels[i].Channel < s.Channels[j].Channel })
	for g := range t.groups {
		s.Groups = append(s.Groups, g)
	}
	sort.Strings(s.Groups)
	return s
}

// Restore replaces the tracker's channels with s.
func (t *Tracker) Restore(s State) {
	t.ch = map[string]*channel{}
	t.groups = map[string]bool{}
	t.complete = false
	for _, c := range s.Channels {
		t.ch[c.Channel] = &channel{kind: c.Kind, time: c.Time, seq: c.Seq, local: c.Local}
	}
	for _, g := range s.Groups {
		t.groups[g] = true
	}
	t.wm, t.wokeAt = s.Watermark, s.WokeAt
}

// Partitions keeps one Tracker per partition of a stage's input, safe for
// the stage's partition goroutines and its sweeper at once.
type Partitions struct {
	n      int32
	idle   time.Duration
	expect string
	now    func() time.Time
	mu     sync.Mutex
	m      map[int32]*partTracker
}

type partTracker struct {
	t        *Tracker
	lastData time.Time
}

// NewPartitions returns trackers for a stage whose stamped topics have n
// partitions (see NewTracker).
func NewPartitions(n int32, idle time.Duration) *Partitions {
	return &Partitions{n: n, idle: idle, now: time.Now, m: map[int32]*partTracker{}}
}

func (p *Partitions) get(partition int32) *partTracker {
	t := p.m[partition]
	if t == nil {
		t = &partTracker{t: NewTracker(p.n, p.idle), lastData: p.now()}
		t.t.Expect(p.expect)
		p.m[partition] = t
	}
	return t
}

// Expect makes topic the only one whose stamps count (Tracker.Expect);
// call it before the first Observe.
func (p *Partitions) Expect(topic string) {
	p.mu.Lock()
	p.expect = topic
	p.mu.Unlock()
}

// Do runs fn with partition's tracker, under the lock.
func (p *Partitions) Do(partition int32, fn func(*Tracker)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p.get(partition).t)
}

// Observe applies the stamps of a record read from partition at at: a
// data record's, or a watermark record's (data false). A data record
// without stamps counts as its partition's own channel (ObserveLocal).
// It returns the partition's watermark and status after it.
func (p *Partitions) Observe(partition int32, at time.Time, stamps []Stamp, data bool, local string, eventTime, seq int64) (int64, Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.get(partition)
	if data {
		t.lastData = p.now()
	}
	switch {
	case len(stamps) > 0:
		return t.t.Observe(at, stamps...)
	case data && local != "":
		return t.t.ObserveLocal(local, eventTime, seq, at)
	}
	return t.t.Watermark()
}

// Watermark returns partition's watermark and status.
func (p *Partitions) Watermark(partition int32) (int64, Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.get(partition).t.Watermark()
}

// StreamTime is the watermark where the stage's sweeper wants a time: 0
// while it is unknown.
func (p *Partitions) StreamTime(partition int32) int64 {
	wm, k := p.Watermark(partition)
	if k == Unknown {
		return 0
	}
	return wm
}

// Idle returns how long (wall clock) partition has had no data record
// (watermark records do not count).
func (p *Partitions) Idle(partition int32) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now().Sub(p.get(partition).lastData)
}

// Reset forgets a partition (it moved to another pod).
func (p *Partitions) Reset(partition int32) {
	p.mu.Lock()
	delete(p.m, partition)
	p.mu.Unlock()
}

// Each calls fn for every partition's watermark and status.
func (p *Partitions) Each(fn func(partition int32, wm int64, k Kind, active, idle, holding int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for part, t := range p.m {
		wm, k := t.t.Watermark()
		a, i, h := t.t.Status()
		fn(part, wm, k, a, i, h)
	}
}

// Lowest returns the lowest watermark over the partitions whose status is
// Time, and how many partitions are idle and holding: a stage's metrics.
func (p *Partitions) Lowest() (low int64, active, idle, holding int) {
	p.Each(func(_ int32, wm int64, k Kind, _, _, _ int) {
		switch k {
		case Time:
			if active == 0 || wm < low {
				low = wm
			}
			active++
		case Idle:
			idle++
		default:
			holding++
		}
	})
	return low, active, idle, holding
}
