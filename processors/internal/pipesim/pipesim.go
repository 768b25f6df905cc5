// Package pipesim runs the event-time path of the pipeline (parse's
// watermark origins, the errorrate stage's two hops and the alerter) on a
// list of log lines without Kafka, delivering them the way a running
// pipeline would: live (in time order, as they happen) or from a backlog
// (every partition's records in large chunks, interleaved at random, each
// hop after the one before). The stages run their real code; only the
// transport is simulated. Tests use it to show that replay equals live.
//
// It is a plain (non-test) package so that the test packages of several
// stages can share it; only tests import it.
package pipesim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// Line is one log line of a host.
type Line struct {
	Host    string
	Time    time.Time
	Error   bool
	Message string
	TraceID string

	sent time.Time // when its shipper sends it (Config.ShipperFlush)
}

// Mode is how the lines reach the stages.
type Mode int

// Modes.
const (
	// Live delivers each line when it happens: every stage sees the lines
	// in time order, a little at a time.
	Live Mode = iota
	// Backlog delivers every line at once: each stage reads its input
	// partitions in chunks, in a random order, after the stage before it
	// has finished.
	Backlog
)

func (m Mode) String() string {
	if m == Live {
		return "live"
	}
	return "backlog"
}

// Config of a run; zero values are defaults.
type Config struct {
	Partitions int32             // 0: 4
	Windows    errorrate.Windows // zero: errorrate.DefaultWindows()
	Rules      *alerter.Rules    // nil: alerter.DefaultRules()
	Idle       time.Duration     // 0: watermark.DefaultIdle
	Tick       time.Duration     // 0: a second
	Seed       uint64
	// Chunk is the records a backlog stage takes from one partition at a
	// time; 0: 500.
	Chunk int
	// ShipperFlush, when set, sends each host's lines as a shipper does:
	// in a batch every ShipperFlush (each host at its own phase), so that
	// in a partition of logs.raw a line may follow later lines of other
	// hosts by up to ShipperFlush. 0: every line when it happens.
	ShipperFlush time.Duration
}

// Result is what a run wrote.
type Result struct {
	Alerts []*schemas.Alert
	// Finals are the final window records, by host, kind, start.
	Finals []*schemas.HostWindow
	Stats  *errorrate.Stats
	Ticks  int64
	// LateTicks are the counts the alerter got after their tick was
	// judged (alerter.Stats.LateTicks).
	LateTicks int64
	// Watermarks are the windows hop's partitions' final watermarks.
	Watermarks map[int32]string
}

type rec struct {
	key     string
	value   []byte
	headers goka.Headers
	wall    time.Time
}

type sim struct {
	cfg     Config
	mode    Mode
	set     *codecs.Set
	n       int32
	rng     *rand.Rand
	wall    time.Time
	orig    *watermark.Origins
	raw     [][]Line // per raw partition, in time order
	rawAt   []int    // next line per raw partition
	uniq    [][]rec  // logs.unique partitions
	uniqOff []int64
	comb    *errorrate.Combiner
	parts   [][]rec // errorrate-partials partitions
	win     *errorrate.Processor
	wtab    *gokatest.Table
	woff    []int64
	upd     []rec // hosts.window-updates (one partition)
	alrt    *alerter.Processor
	atab    *gokatest.Table
	aoff    int64
	res     *Result
	last    time.Time // the latest line
}

// Run delivers lines in mode and returns what the stages wrote.
func Run(cfg Config, lines []Line, mode Mode) (*Result, error) {
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	if cfg.Windows == (errorrate.Windows{}) {
		cfg.Windows = errorrate.DefaultWindows()
	}
	if cfg.Idle == 0 {
		cfg.Idle = watermark.DefaultIdle
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.Chunk == 0 {
		cfg.Chunk = 500
	}
	rules := alerter.DefaultRules()
	if cfg.Rules != nil {
		rules = *cfg.Rules
	}
	s := &sim{cfg: cfg, mode: mode, n: cfg.Partitions, rng: rand.New(rand.NewPCG(cfg.Seed, 7)), res: &Result{}}
	var err error
	if s.set, err = codecs.NewSet(); err != nil {
		return nil, err
	}
	sorted := append([]Line(nil), lines...)
	for i := range sorted {
		sorted[i].sent = sorted[i].Time
		if f := cfg.ShipperFlush; f > 0 {
			h := sha256.Sum256([]byte(sorted[i].Host))
			phase := time.Duration(uint64(h[0])<<8|uint64(h[1])) % f
			t := sorted[i].Time.Add(-phase)
			sorted[i].sent = t.Truncate(f).Add(f + phase)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.sent.Equal(b.sent) {
			return a.sent.Before(b.sent)
		}
		if a.Host != b.Host {
			return a.Host < b.Host // one batch after the other
		}
		return a.Time.Before(b.Time)
	})
	if len(sorted) == 0 {
		return s.res, nil
	}
	s.last = sorted[len(sorted)-1].sent
	s.wall = sorted[0].sent
	if mode == Backlog {
		s.wall = s.last.Add(time.Minute)
	}
	now := func() time.Time { return s.wall }
	s.raw, s.rawAt = make([][]Line, s.n), make([]int, s.n)
	for _, l := range sorted {
		r := topology.Partition([]byte(l.Host), s.n)
		s.raw[r] = append(s.raw[r], l)
	}
	s.orig = watermark.NewOrigins(topology.TopicRaw, s.n, 0)
	s.orig.SetClock(now)
	all := make([]int32, s.n)
	for i := range all {
		all[i] = int32(i)
	}
	s.orig.Assign(all)
	s.uniq, s.parts, s.woff, s.uniqOff = make([][]rec, s.n), make([][]rec, s.n), make([]int64, s.n), make([]int64, s.n)

	cl, err := errorrate.NewClassifier(errorrate.DefaultFailurePattern)
	if err != nil {
		return nil, err
	}
	topo, err := topology.New(topology.Config{Partitions: int(s.n), Replication: 1})
	if err != nil {
		return nil, err
	}
	// Far-future is judged against the wall clock: the simulation's
	// lines are in the past of a clock at their end.
	farNow := func() time.Time { return s.last.Add(time.Minute) }
	cc := wiring.ErrorRateCombineConfig(topo, s.set)
	cc.Brokers, cc.TransactionalID, cc.Classifier = []string{"sim"}, "sim", cl
	cc.Windows, cc.Tick, cc.Idle, cc.Now = cfg.Windows, cfg.Tick, cfg.Idle, now
	cc.MaxFuture = time.Hour
	cc.CaughtUp = func(k int32, _ int64) bool { return len(s.uniq[k]) == 0 }
	if s.comb, err = errorrate.NewCombiner(cc, nil); err != nil {
		return nil, err
	}
	s.comb.Assign(all...)
	fence := func(stage, out string) *exactlyonce.Fence {
		f, err := exactlyonce.New(exactlyonce.Config{Stage: stage, Outputs: []string{out},
			Tail:        func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil },
			PartitionOf: func(k string) int32 { return topology.Partition([]byte(k), s.n) }})
		if err != nil {
			panic(err)
		}
		return f
	}
	ec := wiring.ErrorRateConfig(topo, s.set)
	ec.Fence, ec.Classifier, ec.Window, ec.UpdateInterval, ec.Idle, ec.Now = fence(errorrate.StageName, topology.TopicHostWindows), cl, cfg.Windows, cfg.Tick, cfg.Idle, farNow
	// Nothing is replayed here: every record is committed once processed.
	ec.Committed = func(_ string, p int32) (int64, bool) { return s.woff[p], true }
	if s.win, err = errorrate.New(ec); err != nil {
		return nil, err
	}
	s.wtab = gokatest.NewTable(wiring.ErrorRateTableCodec(topo, s.set))
	ac := wiring.AlerterConfig(topo, s.set)
	ac.Fence, ac.Rules, ac.Idle, ac.Now = fence(alerter.StageName, topology.TopicAlerts), rules, cfg.Idle, farNow
	if s.alrt, err = alerter.New(ac); err != nil {
		return nil, err
	}
	s.atab = gokatest.NewTable(s.set.AlerterState)

	if mode == Live {
		err = s.live(sorted)
	} else {
		err = s.backlog()
	}
	if err != nil {
		return nil, err
	}
	s.res.Stats = s.win.Stats()
	s.res.Watermarks = map[int32]string{}
	for p := int32(0); p < s.n; p++ {
		if v, ok := s.wtab.Get(topology.KeyFor(p, s.n)); ok {
			st := v.(*schemas.ErrorRatePartition)
			s.res.Watermarks[p] = fmt.Sprintf("%s %s %+v", time.UnixMilli(st.Watermark.Watermark).UTC().Format(time.TimeOnly), st.Status, st.Watermark.Channels)
		}
	}
	s.res.Ticks = s.alrt.Stats().Ticks.Load()
	s.res.LateTicks = s.alrt.Stats().LateTicks.Load()
	sort.SliceStable(s.res.Finals, func(i, j int) bool {
		a, b := s.res.Finals[i], s.res.Finals[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Start < b.Start
	})
	return s.res, nil
}

// live delivers each line when its shipper sends it; every 250 ms the
// combine hop flushes and the hops after it catch up.
func (s *sim) live(lines []Line) error {
	flushEvery := 250 * time.Millisecond
	next := lines[0].sent.Add(flushEvery)
	for _, l := range lines {
		for !l.sent.Before(next) {
			s.wall = next
			if err := s.drain(); err != nil {
				return err
			}
			next = next.Add(flushEvery)
		}
		s.wall = l.sent
		r := topology.Partition([]byte(l.Host), s.n)
		s.parse(r)
	}
	// The fleet keeps quiet for a while after the last line: the
	// origins go idle, and every stage hears it.
	for end := s.wall.Add(3 * s.cfg.Idle); s.wall.Before(end); s.wall = s.wall.Add(flushEvery) {
		if err := s.drain(); err != nil {
			return err
		}
	}
	return nil
}

// drain is one flush of the combine hop, after the idleness check, and the
// hops after it processing everything.
func (s *sim) drain() error {
	s.punctuate()
	for k := range s.uniq {
		for _, r := range s.uniq[k] {
			s.consume(int32(k), r)
		}
		s.uniq[k] = s.uniq[k][:0]
	}
	if err := s.flush(); err != nil {
		return err
	}
	for p := range s.parts {
		s.windows(int32(p), len(s.parts[p]))
	}
	s.alert(len(s.upd))
	return nil
}

// backlog has parse read every raw partition in random chunks, then the
// combine hop every unique partition, then the windows hop every partials
// partition, then the alerter: each stage reads a backlog its input
// stages wrote in whatever order they ran.
func (s *sim) backlog() error {
	tick := func() { s.wall = s.wall.Add(time.Millisecond) }
	s.punctuate()
	for {
		var open []int32
		for r := range s.raw {
			if s.rawAt[r] < len(s.raw[r]) {
				open = append(open, int32(r))
			}
		}
		if len(open) == 0 {
			break
		}
		r := open[s.rng.IntN(len(open))]
		for i := 0; i < s.cfg.Chunk && s.rawAt[r] < len(s.raw[r]); i++ {
			s.parse(r)
		}
		tick()
		s.punctuate()
	}
	// Quiet afterwards: the origins go idle.
	for end := s.wall.Add(3 * s.cfg.Idle); s.wall.Before(end); s.wall = s.wall.Add(100 * time.Millisecond) {
		s.punctuate()
	}
	consumed := 0
	for {
		var open []int32
		for k := range s.uniq {
			if len(s.uniq[k]) > 0 {
				open = append(open, int32(k))
			}
		}
		if len(open) == 0 {
			break
		}
		k := open[s.rng.IntN(len(open))]
		n := min(s.cfg.Chunk, len(s.uniq[k]))
		for _, r := range s.uniq[k][:n] {
			s.consume(k, r)
		}
		s.uniq[k] = s.uniq[k][n:]
		consumed += n
		tick()
		if consumed >= 4*s.cfg.Chunk {
			if err := s.flush(); err != nil {
				return err
			}
			consumed = 0
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	// A few more flushes, as the hop goes on running: stamps due on
	// wall-clock resends.
	for i := 0; i < 30; i++ {
		s.wall = s.wall.Add(s.cfg.Idle / 4)
		if err := s.flush(); err != nil {
			return err
		}
	}
	for {
		var open []int32
		for p := range s.parts {
			if len(s.parts[p]) > 0 {
				open = append(open, int32(p))
			}
		}
		if len(open) == 0 {
			break
		}
		p := open[s.rng.IntN(len(open))]
		s.windows(p, min(3, len(s.parts[p])))
	}
	for len(s.upd) > 0 {
		s.alert(min(7, len(s.upd)))
	}
	return nil
}

// punctuate is parse's Punctuator: a raw partition with nothing left to
// read and no line for Idle is idle.
func (s *sim) punctuate() {
	stamps := s.orig.IdleStamps(s.cfg.Idle, func(r int32, last int64) (int64, bool) {
		left := s.rawAt[r] < len(s.raw[r])
		if left && s.mode == Live {
			// Live, a line in the future is not in the topic yet.
			left = !s.raw[r][s.rawAt[r]].sent.After(s.wall)
		}
		return last, !left
	})
	for _, st := range stamps {
		v, h := watermark.Record(st)
		for k := range s.uniq {
			s.uniq[k] = append(s.uniq[k], rec{key: topology.KeyFor(int32(k), s.n), value: v, headers: h, wall: s.wall})
		}
	}
}

// parse emits the next line of raw partition r, stamped, as parse does
// (dedupe in between changes nothing here: no repeats).
func (s *sim) parse(r int32) {
	i := s.rawAt[r]
	s.rawAt[r]++
	l := s.raw[r][i]
	ev := &schemas.LogEvent{Timestamp: l.Time.UnixMilli(), Host: l.Host, Service: "payments", Level: schemas.LevelInfo,
		Message: "GET /pay 200", Source: "stdin", Format: "json"}
	if l.Error {
		ev.Level, ev.Message = schemas.LevelError, l.Message
		if ev.Message == "" {
			ev.Message = "timeout after 3000 ms to 10.0.4.7:3306"
		}
	}
	if l.TraceID != "" {
		t := l.TraceID
		ev.TraceID = &t
	}
	h := sha256.Sum256([]byte(l.Host + "/" + strconv.Itoa(int(r)) + "/" + strconv.Itoa(i)))
	ev.EventID = hex.EncodeToString(h[:16])
	b, err := s.set.LogEvent.Marshal(ev)
	if err != nil {
		panic(err)
	}
	k := topology.Partition([]byte(ev.EventID), s.n)
	stamp, due := s.orig.Advance(r, int64(i), ev.Timestamp, true, k)
	s.uniq[k] = append(s.uniq[k], rec{key: ev.EventID, value: b, headers: goka.Headers{watermark.HeaderStamp: watermark.Encode(stamp)}, wall: s.wall})
	v, hd := watermark.Record(stamp)
	for _, kk := range due {
		s.uniq[kk] = append(s.uniq[kk], rec{key: topology.KeyFor(kk, s.n), value: v, headers: hd, wall: s.wall})
	}
}

func (s *sim) consume(k int32, r rec) {
	kr := &kgo.Record{Topic: topology.TopicUnique, Partition: k, Key: []byte(r.key), Value: r.value, Timestamp: r.wall}
	for name, v := range r.headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: name, Value: v})
	}
	kr.Offset = s.uniqOff[k]
	s.uniqOff[k]++
	s.comb.Consume(kr)
}

// flush is one committed transaction of the combine hop.
func (s *sim) flush() error {
	out, err := s.comb.Flush(s.wall)
	if err != nil {
		return err
	}
	for _, r := range out {
		if r.Topic != topology.TopicErrorRatePartials {
			continue
		}
		p := topology.Partition(r.Key, s.n)
		h := goka.Headers{}
		for _, x := range r.Headers {
			h[x.Key] = x.Value
		}
		s.parts[p] = append(s.parts[p], rec{key: string(r.Key), value: r.Value, headers: h, wall: s.wall})
	}
	return nil
}

// windows processes the next n partials of partition p.
func (s *sim) windows(p int32, n int) {
	for _, r := range s.parts[p][:n] {
		ctx := gokatest.NewContext(goka.Group(topology.GroupErrorRate), topology.LoopTopic(topology.GroupErrorRate), s.wtab, gokatest.Record{
			Topic: topology.TopicErrorRatePartials, Key: r.key, Partition: p, Offset: s.woff[p], Headers: r.headers, Time: r.wall})
		s.woff[p]++
		s.win.Partial(ctx, r.value)
		for _, e := range ctx.Emits {
			b, _ := e.Value.([]byte)
			switch e.Topic {
			case topology.TopicHostWindows:
				hw, err := s.set.HostWindow.Unmarshal(b)
				if err != nil {
					panic(err)
				}
				if hw.Emit == schemas.EmitFinal {
					s.res.Finals = append(s.res.Finals, hw)
				}
			case topology.TopicWindowUpdates:
				s.upd = append(s.upd, rec{key: e.Key, value: b, wall: r.wall})
			}
		}
	}
	s.parts[p] = s.parts[p][n:]
}

// alert processes the next n updates.
func (s *sim) alert(n int) {
	for _, r := range s.upd[:n] {
		ctx := gokatest.NewContext(goka.Group(topology.GroupAlerter), "", s.atab, gokatest.Record{
			Topic: topology.TopicWindowUpdates, Key: r.key, Partition: 0, Offset: s.aoff, Time: r.wall})
		s.aoff++
		s.alrt.Process(ctx, r.value)
		for _, e := range ctx.Emits {
			if e.Topic != topology.TopicAlerts {
				continue
			}
			al, err := s.set.Alert.Unmarshal(e.Value.([]byte))
			if err != nil {
				panic(err)
			}
			s.res.Alerts = append(s.res.Alerts, al)
		}
	}
	s.upd = s.upd[n:]
}

// AlertKey is what two runs' alerts must agree on.
func AlertKey(a *schemas.Alert) string {
	return fmt.Sprintf("%s %s %s %s [%s, %s) at %s: %d errors in %d events", a.State, a.Scope, a.Host, a.Rule,
		time.UnixMilli(a.WindowStart).UTC().Format(time.TimeOnly), time.UnixMilli(a.WindowEnd).UTC().Format(time.TimeOnly),
		time.UnixMilli(a.At).UTC().Format(time.TimeOnly), a.Errors, a.Events)
}

// WindowKey is what two runs' final windows must agree on.
func WindowKey(w *schemas.HostWindow) string {
	return fmt.Sprintf("%s %s [%s, %s) %d events %d errors", w.Host, w.Kind,
		time.UnixMilli(w.Start).UTC().Format(time.TimeOnly), time.UnixMilli(w.End).UTC().Format(time.TimeOnly), w.Events, w.Errors)
}
