package watermark

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

var w0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func ts(s int) int64 { return w0.Add(time.Duration(s) * time.Second).UnixMilli() }

func TestStampEncoding(t *testing.T) {
	in := []Stamp{
		{Channel: "logs.raw/3", Kind: Time, Time: ts(5), Seq: 42},
		{Channel: "logs.raw/0", Kind: Idle, Seq: -1},
		{Channel: "logs.unique/11", Kind: Idle, Time: ts(9), Seq: 7},
		{Channel: "errorrate/2", Kind: Hold, Seq: 0},
	}
	b := Encode(in...)
	if string(b) != "logs.raw/3:"+itoa(ts(5))+":42,logs.raw/0:idle:-1,logs.unique/11:idle="+itoa(ts(9))+":7,errorrate/2:hold:0" {
		t.Fatalf("encoded %q", b)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if s, err := Decode(nil); s != nil || err != nil {
		t.Fatalf("empty: %v %v", s, err)
	}
	for _, bad := range []string{"x", "logs.raw/1:5", "logs.raw:5:1", "logs.raw/a:5:1", "logs.raw/1:five:1", "logs.raw/1:5:x", "a/1:idle=x:1", "a/1:5:1,"} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func FuzzDecode(f *testing.F) {
	f.Add([]byte("logs.raw/3:1764982312345:42,logs.raw/0:idle=5:-1"))
	f.Add([]byte("a/1:hold:0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		back, err := Decode(Encode(s...))
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("%q: re-encoded %+v, %v", b, back, err)
		}
	})
}

func stampOf(r int, kind Kind, sec int, seq int64) Stamp {
	s := Stamp{Channel: Channel("logs.raw", int32(r)), Kind: kind, Seq: seq}
	if kind == Time || kind == Idle && sec > 0 {
		s.Time = ts(sec)
	}
	return s
}

func wantWM(t *testing.T, tr *Tracker, what string, wm int64, k Kind) {
	t.Helper()
	if got, gk := tr.Watermark(); got != wm || gk != k {
		t.Fatalf("%s: watermark %d %s, want %d %s", what, got, gk, wm, k)
	}
}

// TestTrackerMinimum: the watermark is the least of the channels' times;
// every partition of a stamped topic is expected; it never goes back.
func TestTrackerMinimum(t *testing.T) {
	tr := NewTracker(3, 5*time.Second)
	wantWM(t, tr, "nothing heard", 0, Unknown)
	tr.Observe(w0, stampOf(0, Time, 10, 1))
	wantWM(t, tr, "partitions 1 and 2 unknown", 0, Hold)
	tr.Observe(w0, stampOf(1, Time, 8, 1), stampOf(2, Time, 12, 1))
	wantWM(t, tr, "all heard", ts(8), Time)
	tr.Observe(w0, stampOf(1, Time, 20, 2))
	wantWM(t, tr, "1 moves", ts(10), Time)
	tr.Observe(w0, stampOf(0, Time, 5, 0)) // an older stamp (a replay)
	wantWM(t, tr, "never back", ts(10), Time)
	if a, i, h := tr.Status(); a != 3 || i != 0 || h != 0 {
		t.Fatalf("status %d %d %d", a, i, h)
	}
}

// TestTrackerIdle: idle channels do not hold the watermark; when all are
// idle it stands at the least time they reached; a stale idle stamp (data
// came after it) changes nothing; data newer than an idle stamp wakes the
// channel.
func TestTrackerIdle(t *testing.T) {
	tr := NewTracker(2, 5*time.Second)
	tr.Observe(w0, stampOf(0, Time, 10, 5), stampOf(1, Idle, 0, -1))
	wantWM(t, tr, "1 idle from the start", ts(10), Time)
	tr.Observe(w0, stampOf(0, Time, 30, 9))
	wantWM(t, tr, "0 alone moves it", ts(30), Time)
	tr.Observe(w0, stampOf(0, Idle, 31, 8)) // older than the data already read
	wantWM(t, tr, "stale idle stamp", ts(30), Time)
	tr.Observe(w0, stampOf(0, Time, 35, 10), stampOf(0, Idle, 35, 10))
	wantWM(t, tr, "all idle: stands at 35s", ts(35), Idle)
	tr.Observe(w0, stampOf(0, Time, 35, 10)) // the same record again
	wantWM(t, tr, "a replay does not wake it", ts(35), Idle)
	tr.Observe(w0.Add(time.Second), stampOf(1, Time, 40, 3))
	wantWM(t, tr, "1 wakes while all were idle: 0 holds until it is idle again", ts(35), Hold)
	tr.Observe(w0.Add(2*time.Second), stampOf(0, Idle, 35, 10))
	wantWM(t, tr, "an idle stamp within the resync period may predate the wake", ts(35), Hold)
	tr.Observe(w0.Add(7*time.Second), stampOf(0, Idle, 35, 10))
	wantWM(t, tr, "after it, 0 is idle again", ts(40), Time)
}

// TestTrackerLocal: a partition read without stamps is its own channel,
// and does not make its topic's other partitions expected.
func TestTrackerLocal(t *testing.T) {
	tr := NewTracker(6, 5*time.Second)
	tr.ObserveLocal("logs.unique/2", ts(10), 0, w0)
	tr.ObserveLocal("logs.unique/2", ts(4), 1, w0)
	wantWM(t, tr, "highest seen", ts(10), Time)
	tr.MarkIdle("logs.unique/2", 1, w0)
	wantWM(t, tr, "idle", ts(10), Idle)
	tr.MarkIdle("logs.raw/0", 1, w0) // not local: ignored
	if len(tr.State().Channels) != 1 {
		t.Fatal("MarkIdle made a channel")
	}
}

func TestTrackerState(t *testing.T) {
	tr := NewTracker(2, 5*time.Second)
	tr.Observe(w0, stampOf(0, Time, 10, 5), stampOf(1, Idle, 0, 2))
	tr.Watermark()
	cp := NewTracker(2, 5*time.Second)
	cp.Restore(tr.State())
	if !reflect.DeepEqual(cp.State(), tr.State()) {
		t.Fatalf("restored %+v\nwant %+v", cp.State(), tr.State())
	}
	wantWM(t, cp, "restored", ts(10), Time)
}

func TestFanout(t *testing.T) {
	f := Fanout{Every: time.Second, Resend: 2 * time.Second}
	s := stampOf(0, Time, 10, 1)
	if !f.Due(3, s, w0) {
		t.Fatal("never sent: due")
	}
	f.Sent(3, s, w0)
	if f.Due(3, stampOf(0, Time, 10, 2), w0) || f.Due(3, Stamp{Channel: s.Channel, Kind: Time, Time: ts(10) + 999}, w0) {
		t.Fatal("less than a second on: not due")
	}
	if !f.Due(3, stampOf(0, Time, 11, 3), w0) || !f.Due(3, stampOf(0, Idle, 0, 3), w0) {
		t.Fatal("a second on, or idle: due")
	}
	idle := stampOf(0, Idle, 11, 3)
	f.Sent(3, idle, w0)
	if f.Due(3, idle, w0.Add(time.Second)) || !f.Due(3, idle, w0.Add(2*time.Second)) {
		t.Fatal("an idle stamp is sent again every Resend")
	}
	snap := f.Snapshot()
	f.Sent(4, s, w0)
	f.Restore(snap)
	if !f.Due(4, s, w0) {
		t.Fatal("Restore kept a send")
	}
	f.Forget(s.Channel)
	if !f.Due(3, idle, w0) {
		t.Fatal("Forget kept a send")
	}
}

// TestOrigins: parse's side: each record's stamp is its partition's
// highest event time; other output partitions get a watermark record when
// a second has passed for them; a quiet, caught-up partition is idle, and
// the next record wakes it, for every output partition.
func TestOrigins(t *testing.T) {
	now := w0
	o := NewOrigins("logs.raw", 3, time.Second)
	o.SetClock(func() time.Time { return now })
	o.Assign([]int32{0, 1})
	s, due := o.Advance(0, 0, ts(10), true, 1)
	if s.Kind != Time || s.Time != ts(10) || s.Seq != 0 || !reflect.DeepEqual(due, []int32{0, 2}) {
		t.Fatalf("first: %+v %v", s, due)
	}
	s, due = o.Advance(0, 1, ts(9), true, 2)
	if s.Time != ts(10) || len(due) != 0 {
		t.Fatalf("older event: %+v %v", s, due)
	}
	s, due = o.Advance(0, 2, 0, false, -1)
	if s.Time != ts(10) || len(due) != 0 {
		t.Fatalf("no event: %+v %v", s, due)
	}
	_, due = o.Advance(0, 3, ts(11), true, 0)
	if !reflect.DeepEqual(due, []int32{1, 2}) {
		t.Fatalf("a second later: %v", due)
	}
	caught := func(int32, int64) (int64, bool) { return 3, true }
	if st := o.IdleStamps(5*time.Second, caught); len(st) != 0 {
		t.Fatalf("not quiet yet: %v", st)
	}
	now = now.Add(5 * time.Second)
	st := o.IdleStamps(5*time.Second, func(p int32, last int64) (int64, bool) { return last, p == 0 })
	if len(st) != 1 || st[0] != (Stamp{Channel: "logs.raw/0", Kind: Idle, Time: ts(11), Seq: 3}) {
		t.Fatalf("idle stamps %+v", st)
	}
	if st := o.IdleStamps(5*time.Second, caught); len(st) != 1 || st[0].Channel != "logs.raw/1" {
		t.Fatalf("partition 0 again too soon, or 1 not idle: %+v", st)
	}
	now = now.Add(5 * time.Second)
	if st := o.IdleStamps(5*time.Second, caught); len(st) != 2 {
		t.Fatalf("resent after Idle: %+v", st)
	}
	_, due = o.Advance(0, 4, ts(11), true, 1)
	if !reflect.DeepEqual(due, []int32{0, 2}) {
		t.Fatalf("woken: every partition hears it: %v", due)
	}
}

// An upgrade's first records carry no stamps: the partition's own event
// time stands in until stamps come, and then stops counting (else the
// last unstamped record would hold the watermark for ever). A record
// without a stamp, or with one that did not parse, moves nothing after.
func TestLocalChannelGivesWayToStamps(t *testing.T) {
	tr := NewTracker(2, time.Second)
	tr.Expect("logs.raw")
	tr.ObserveLocal("logs.unique/0", ts(10), 1, w0)
	if wm, k := tr.Watermark(); wm != ts(10) || k != Time {
		t.Fatalf("unstamped stream: %d %v", wm, k)
	}
	tr.Observe(w0, stampOf(0, Time, 30, 5), stampOf(1, Time, 40, 5))
	if wm, k := tr.Watermark(); wm != ts(30) || k != Time {
		t.Fatalf("stamps came: %d %v, want the stamps' minimum", wm, k)
	}
	tr.ObserveLocal("logs.unique/0", ts(20), 2, w0)
	tr.Observe(w0, stampOf(0, Time, 60, 6), stampOf(1, Time, 50, 6))
	if wm, _ := tr.Watermark(); wm != ts(50) {
		t.Fatalf("an unstamped record in a stamped stream held it: %d", wm)
	}
}

// A stamp of a topic the tracker does not expect (a record mirrored from
// another pipeline) is ignored: it must not make that topic's partitions
// expected and hold the watermark.
func TestStrayStampIgnored(t *testing.T) {
	tr := NewTracker(2, time.Second)
	tr.Expect("logs.raw")
	tr.Observe(w0, stampOf(0, Time, 10, 1), stampOf(1, Time, 12, 1), Stamp{Channel: "other.topic/0", Kind: Time, Time: ts(1), Seq: 1})
	if wm, k := tr.Watermark(); wm != ts(10) || k != Time {
		t.Fatalf("%d %v", wm, k)
	}
	if _, _, holding := tr.Status(); holding != 0 {
		t.Fatalf("holding %d", holding)
	}
}

func TestFutureAgainstTheRecordTime(t *testing.T) {
	record, now := w0, w0.Add(5*time.Hour) // a backlog read five hours on
	ahead := w0.Add(2 * time.Hour).UnixMilli()
	if !Future(ahead, record, now, time.Hour) {
		t.Error("two hours ahead of its record is future, however late it is read")
	}
	if Future(w0.Add(30*time.Minute).UnixMilli(), record, now, time.Hour) {
		t.Error("half an hour ahead is not")
	}
	// A producer that stamps records with the event's time vouches for
	// nothing: the wall clock bounds it.
	if !Future(ahead, time.UnixMilli(ahead), w0, time.Hour) {
		t.Error("record stamped with the event's own time")
	}
	if !Future(ahead, time.Time{}, w0, time.Hour) {
		t.Error("no record time: the wall clock")
	}
}

// BenchmarkPartitionsObserve is a stage's per-record cost of the
// watermark: one stamp of one of six origins, as dedupe, the join and the
// combine hop see on every event.
func BenchmarkPartitionsObserve(b *testing.B) {
	p := NewPartitions(6, time.Second)
	p.Expect("logs.raw")
	for r := 0; r < 6; r++ {
		p.Observe(0, w0, []Stamp{stampOf(r, Time, 1, 1)}, true, "", 0, 0)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Observe(0, w0, []Stamp{stampOf(i%6, Time, 1+i/6, int64(i))}, true, "", 0, 0)
	}
}

// TestChannelNames: cached names are the names, for any partition, from
// goroutines at once.
func TestChannelNames(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []int32{0, 5, 255, 256, 1000, -1} {
				topic := fmt.Sprintf("topic-%d", (int(p)+g)%3)
				want := topic + "/" + strconv.Itoa(int(p))
				if got := Channel(topic, p); got != want {
					t.Errorf("Channel(%q, %d) = %q, want %q", topic, p, got, want)
				}
				if tp, part, ok := SplitChannel(Channel(topic, p)); p >= 0 && (!ok || tp != topic || part != p) {
					t.Errorf("SplitChannel(Channel(%q, %d)) = %q, %d, %v", topic, p, tp, part, ok)
				}
			}
		}()
	}
	wg.Wait()
}
