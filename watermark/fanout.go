package watermark

import "time"

// Defaults of a Fanout.
const (
	// DefaultEvery is how far (event time) a channel's stamp may run ahead
	// of what a downstream partition last heard before it gets a watermark
	// record of its own: the watermark's resolution there.
	DefaultEvery = time.Second
	// DefaultIdle is how long (wall clock) a caught-up source may have no
	// records before it is idle.
	DefaultIdle = 5 * time.Second
)

// Fanout remembers what each downstream partition last heard of each
// channel, so that a stage writes a watermark record only to partitions
// that have not heard a channel's progress past a multiple of Every of
// event time, or its
// idle or hold state for Resend of wall clock (a restarted reader, or one
// resynchronising after a wake-up, needs to hear it again). Records that
// carry a stamp anyway (data) are noted with Sent.
type Fanout struct {
	Every  time.Duration // 0 means DefaultEvery
	Resend time.Duration // 0 means DefaultIdle / 2
	last   map[fanKey]sent
}

type fanKey struct {
	ch     string
	target int32
}

type sent struct {
	kind Kind
	time int64
	wall int64
}

// Due reports whether target should be sent s now.
func (f *Fanout) Due(target int32, s Stamp, now time.Time) bool {
	l, ok := f.last[fanKey{s.Channel, target}]
	if !ok || l.kind != s.Kind {
		return true
	}
	if s.Kind == Time {
		every := f.Every.Milliseconds()
		if every <= 0 {
			every = DefaultEvery.Milliseconds()
		}
		// Aligned to multiples of Every (the alerter's ticks, by
		// default): a partition hears the moment a boundary is passed,
		// not up to Every later.
		return floorDiv(s.Time, every) != floorDiv(l.time, every)
	}
	resend := f.Resend
	if resend <= 0 {
		resend = DefaultIdle / 2
	}
	return now.UnixMilli()-l.wall >= resend.Milliseconds()
}

// Sent notes that target was sent s.
func (f *Fanout) Sent(target int32, s Stamp, now time.Time) {
	if f.last == nil {
		f.last = map[fanKey]sent{}
	}
	f.last[fanKey{s.Channel, target}] = sent{kind: s.Kind, time: s.Time, wall: now.UnixMilli()}
}

// Forget drops what every target heard of channel (its source moved away).
func (f *Fanout) Forget(channel string) {
	for k := range f.last {
		if k.ch == channel {
			delete(f.last, k)
		}
	}
}

// FanoutState is a Fanout's memory at one moment.
type FanoutState struct{ last map[fanKey]sent }

// Snapshot returns a copy of what was sent, for Restore when the records
// of a transaction were aborted.
func (f *Fanout) Snapshot() FanoutState {
	out := make(map[fanKey]sent, len(f.last))
	for k, v := range f.last {
		out[k] = v
	}
	return FanoutState{out}
}

// Restore returns to a Snapshot.
func (f *Fanout) Restore(s FanoutState) { f.last = s.last }

func floorDiv(t, step int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q
}
