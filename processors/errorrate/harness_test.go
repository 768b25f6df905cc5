package errorrate_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// The tests drive both hops without Kafka: the combine hop through
// Assign, Consume and Flush (one pod owning every partition), the windows
// hop's callbacks through gokatest contexts over a table kept across
// "restarts".

// t0 is a minute boundary; the wall clock of the tests is t0 + 1 h.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	partialsT = topology.TopicErrorRatePartials
	loopT     = topology.LoopTopic(topology.GroupErrorRate)
	windowsT  = topology.TopicHostWindows
	updatesT  = topology.TopicWindowUpdates
	rawT      = topology.TopicRaw
)

func at(d time.Duration) time.Time { return t0.Add(d) }
func ms(d time.Duration) int64     { return at(d).UnixMilli() }

func noTail(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil }

// stage is both hops over n partitions.
type stage struct {
	t     *testing.T
	n     int32
	set   *codecs.Set
	topo  *topology.Topology
	comb  *errorrate.Combiner
	win   *errorrate.Processor
	tab   *gokatest.Table
	wall  time.Time
	uoff  map[int32]int64
	poff  map[int32]int64
	edit  func(*errorrate.Config)
	tail  exactlyonce.TailFunc
	quiet map[int32]bool // partitions of logs.unique the hop may judge caught up
	// sent are the records each partials record's processing wrote, by
	// partition and offset.
	sent map[[2]int64][]gokatest.Sent
}

func newStage(t *testing.T, n int32, edit func(*errorrate.Config)) *stage {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(topology.Config{Partitions: int(n), Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := &stage{t: t, n: n, set: set, topo: topo, wall: t0.Add(time.Hour), uoff: map[int32]int64{}, poff: map[int32]int64{},
		edit: edit, tail: noTail, quiet: map[int32]bool{}, sent: map[[2]int64][]gokatest.Sent{}}
	s.tab = gokatest.NewTable(wiring.ErrorRateTableCodec(topo, set))
	s.restartCombine()
	s.restartWindows(noTail)
	return s
}

func (s *stage) classifier() *errorrate.Classifier {
	cl, err := errorrate.NewClassifier(errorrate.DefaultFailurePattern)
	if err != nil {
		s.t.Fatal(err)
	}
	return cl
}

// restartCombine is a new pod of the combine hop (nothing kept in memory).
func (s *stage) restartCombine() {
	cc := wiring.ErrorRateCombineConfig(s.topo, s.set)
	cc.Brokers, cc.TransactionalID, cc.Classifier = []string{"test"}, "test", s.classifier()
	cc.Windows, cc.Tick = errorrate.DefaultWindows(), time.Second
	cc.Now = func() time.Time { return s.wall }
	cc.CaughtUp = func(k int32, _ int64) bool { return s.quiet[k] }
	c, err := errorrate.NewCombiner(cc, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	all := make([]int32, s.n)
	for i := range all {
		all[i] = int32(i)
	}
	c.Assign(all...)
	s.comb = c
}

// restartWindows is a new pod of the windows hop over the same table,
// its fence reading tails with tail.
func (s *stage) restartWindows(tail exactlyonce.TailFunc) {
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: errorrate.StageName, Outputs: []string{windowsT}, Tail: tail,
		PartitionOf: func(k string) int32 { return topology.Partition([]byte(k), s.n) }})
	if err != nil {
		s.t.Fatal(err)
	}
	cfg := wiring.ErrorRateConfig(s.topo, s.set)
	cfg.Fence, cfg.Classifier = fence, s.classifier()
	cfg.Now = func() time.Time { return t0.Add(time.Hour) }
	if s.edit != nil {
		s.edit(&cfg)
	}
	p, err := errorrate.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.win = p
}

// ev is an event of host at d after t0; err makes it an ERROR line with
// a trace id.
func ev(host string, d time.Duration, err bool) *schemas.LogEvent {
	e := &schemas.LogEvent{EventID: fmt.Sprintf("%s-%d", host, d), Timestamp: ms(d), Host: host, Service: "payments",
		Level: schemas.LevelInfo, Message: "GET /pay 200", Source: "stdin", Format: "json"}
	if err {
		e.Level, e.Message = schemas.LevelError, "timeout after 3012 ms to 10.0.4.7:3306"
		tr := "4bf92f3577b34da6a3ce929d0e0e4736"
		e.TraceID = &tr
	}
	return e
}

// origin is the stamp of partition r of logs.raw at time d, offset seq.
func origin(r int32, d time.Duration, seq int64) watermark.Stamp {
	return watermark.Stamp{Channel: watermark.Channel(rawT, r), Kind: watermark.Time, Time: ms(d), Seq: seq}
}

func idleOrigin(r int32, seq int64) watermark.Stamp {
	return watermark.Stamp{Channel: watermark.Channel(rawT, r), Kind: watermark.Idle, Seq: seq}
}

// consume delivers e on partition k of logs.unique with stamps (none: the
// partition is its own channel).
func (s *stage) consume(k int32, e *schemas.LogEvent, stamps ...watermark.Stamp) {
	s.t.Helper()
	b, err := s.set.LogEvent.Marshal(e)
	if err != nil {
		s.t.Fatal(err)
	}
	s.raw(k, []byte(e.EventID), b, stamps, false)
}

// mark delivers a watermark record on partition k of logs.unique.
func (s *stage) mark(k int32, stamps ...watermark.Stamp) {
	v, _ := watermark.Record(stamps...)
	s.raw(k, []byte(topology.KeyFor(k, s.n)), v, stamps, true)
}

func (s *stage) raw(k int32, key, value []byte, stamps []watermark.Stamp, wm bool) {
	r := &kgo.Record{Topic: topology.TopicUnique, Partition: k, Key: key, Value: value, Offset: s.uoff[k], Timestamp: s.wall}
	s.uoff[k]++
	if len(stamps) > 0 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: watermark.HeaderStamp, Value: watermark.Encode(stamps...)})
	}
	if wm {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: watermark.HeaderKind, Value: []byte(watermark.KindWatermark)})
	}
	s.comb.Consume(r)
}

// joined delivers e, joined with a span of service, on logs.enriched.
func (s *stage) joined(e *schemas.LogEvent, service string, durUs int64) {
	j := *e
	j.JoinStatus, j.SpanService, j.SpanOperation, j.SpanDurationUs = schemas.JoinJoined, service, "SELECT", &durUs
	b, err := s.set.LogEvent.Marshal(&j)
	if err != nil {
		s.t.Fatal(err)
	}
	s.comb.Consume(&kgo.Record{Topic: topology.TopicEnriched, Key: []byte(*e.TraceID), Value: b, Timestamp: s.wall})
}

// flush ends a transaction of the combine hop; its partials go to the
// windows hop, which processes them. It returns the combine hop's records.
func (s *stage) flush() []*kgo.Record {
	s.t.Helper()
	out, err := s.comb.Flush(s.wall)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range out {
		if r.Topic == partialsT {
			s.partial(topology.Partition(r.Key, s.n), r)
		}
	}
	return out
}

// partial processes a partials record as the next offset of partition p.
func (s *stage) partial(p int32, r *kgo.Record) *gokatest.Context {
	o := s.poff[p]
	s.poff[p]++
	return s.partialAt(p, o, r)
}

// partialAt processes r as offset o of partition p (again, for replays).
func (s *stage) partialAt(p int32, o int64, r *kgo.Record) *gokatest.Context {
	h := goka.Headers{}
	for _, x := range r.Headers {
		h[x.Key] = x.Value
	}
	ctx := gokatest.NewContext(goka.Group(topology.GroupErrorRate), loopT, s.tab, gokatest.Record{
		Topic: goka.Stream(partialsT), Key: string(r.Key), Partition: p, Offset: o, Headers: h, Time: s.wall})
	s.win.Partial(ctx, r.Value)
	s.sent[[2]int64{int64(p), o}] = ctx.Emits
	return ctx
}

// windows decodes the HostWindows written to hosts.error-rate so far, by
// partition and offset order, and forgets them.
func (s *stage) emitted(topic string) []gokatest.Sent {
	var keys [][2]int64
	for k := range s.sent {
		keys = append(keys, k)
	}
	sortKeys(keys)
	var out []gokatest.Sent
	for _, k := range keys {
		for _, e := range s.sent[k] {
			if e.Topic == topic {
				out = append(out, e)
			}
		}
	}
	return out
}

func sortKeys(ks [][2]int64) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && (ks[j][0] < ks[j-1][0] || ks[j][0] == ks[j-1][0] && ks[j][1] < ks[j-1][1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func (s *stage) windows() []*schemas.HostWindow {
	s.t.Helper()
	var out []*schemas.HostWindow
	for _, e := range s.emitted(windowsT) {
		hw, err := s.set.HostWindow.Unmarshal(e.Value.([]byte))
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, hw)
	}
	return out
}

func (s *stage) updates() []*schemas.WindowUpdate {
	s.t.Helper()
	var out []*schemas.WindowUpdate
	for _, e := range s.emitted(updatesT) {
		u, err := s.set.WindowUpdate.Unmarshal(e.Value.([]byte))
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func (s *stage) forget() { s.sent = map[[2]int64][]gokatest.Sent{} }

func (s *stage) state(p int32) *schemas.ErrorRatePartition {
	v, ok := s.tab.Get(topology.KeyFor(p, s.n))
	if !ok {
		return nil
	}
	return v.(*schemas.ErrorRatePartition)
}

// win is a window record relative to t0, for comparisons.
type win struct {
	Kind, Emit     string
	Start, End     time.Duration
	Events, Errors int64
}

func (w win) String() string {
	return fmt.Sprintf("%s %s [%v,%v) %d/%d", w.Emit, w.Kind, w.Start, w.End, w.Events, w.Errors)
}

func wins(ws []*schemas.HostWindow) []win {
	out := []win{}
	for _, w := range ws {
		out = append(out, win{w.Kind, w.Emit, time.Duration(w.Start-t0.UnixMilli()) * time.Millisecond,
			time.Duration(w.End-t0.UnixMilli()) * time.Millisecond, w.Events, w.Errors})
	}
	return out
}

func wantWins(t *testing.T, what string, got []*schemas.HostWindow, want ...win) {
	t.Helper()
	if want == nil {
		want = []win{}
	}
	if g := wins(got); !reflect.DeepEqual(g, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, g, want)
	}
}

func tumbling(start time.Duration, events, errors int64) win {
	return win{schemas.WindowTumbling, schemas.EmitFinal, start, start + time.Minute, events, errors}
}

func hopping(start time.Duration, events, errors int64) win {
	return win{schemas.WindowHopping, schemas.EmitFinal, start, start + 5*time.Minute, events, errors}
}
