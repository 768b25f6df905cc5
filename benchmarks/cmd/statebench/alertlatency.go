package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// Alert latency under load: the errorrate stage and the alerter run
// together while a producer writes events at a steady rate to
// logs.unique, event time = wall time (each event is stamped with the
// millisecond it is sent in). `slots` hosts send at once; every `every` a
// slot's host is replaced by a new host (a new pod name) that is healthy
// for `healthy` ±50% (uniformly at random, so that the moment its
// window meets the rule falls anywhere between two of its updates), then
// fails (20% of its events are "timeout after N ms to
// 10.0.4.7:3306") for `bad`, then is healthy again until it is replaced.
// Each new host is one incident: with the rules below (threshold only,
// for: 0s) it fires once its tumbling window's error rate reaches 10%,
// and resolves once it is under 5%.
//
// For every FIRING alert on the alerts topic:
//   - processing latency: the alert record's Kafka timestamp minus the
//     wall time at which the producer sent the first event of that host
//     stamped At or later (At is the tick of event time the alerter judged
//     the alert at: it judges a tick once the watermark of every errorrate
//     partition has passed it, which events stamped at or after it do; at
//     these rates the host's first such event is within a millisecond of
//     the deciding one);
//   - condition latency: the alert's Kafka timestamp minus the send time
//     of the event after which the host's window, as the producer counts
//     it, first met the rule (includes waiting for the next update: the
//     stage writes a host's update at most once per UpdateInterval of
//     event time);
//   - consumer latency: when a franz-go consumer of the alerts topic got
//     the alert, minus the same send time as the processing latency;
//   - the alerter's own histogram logstream_alerter_alert_latency_seconds
//     (the deciding update's Kafka timestamp to the alert's write; FIRING
//     and RESOLVED alerts).

type alertConfig struct {
	partitions int
	storage    string
	rate       int // events/s, all hosts together
	slots      int // hosts sending at once
	incidents  int
	every      time.Duration // between two incidents
	healthy    time.Duration // a new host's healthy start (mean; ±50%)
	bad        time.Duration // then its failing phase
	warmup     time.Duration // before the first incident
	intervals  []time.Duration
	latencies  bool // events carry latency_ms (the stage sketches them)
}

// The error rates: every host's baseline (HTTP 500s) and a failing host's
// (timeouts to its database; the baseline's 500s go on).
const (
	baseErrors = 0.01
	badErrors  = 0.20
	fireRate   = 0.10
	minEvents  = 20
)

// alertRulesYAML: the threshold rule alone, on the rate as measured (no
// significance bound, a single error may count: the producer's own
// reckoning of when the rule is met is the same), firing and resolving at
// once.
var alertRulesYAML = fmt.Sprintf(`
min_events: %d
min_errors: 1
confidence: 0.5
for: 0s
resolve_for: 0s
threshold: {enabled: true, fire_rate: %v, resolve_rate: 0.05}
host_vs_fleet: {enabled: false}
fleet_wide: {enabled: false}
burn_rate: {enabled: false}
host_silent: {enabled: false}
`, minEvents, fireRate)

// sendMark is the first send of a host's events stamped ts.
type sendMark struct {
	ts   int64
	wall time.Time
}

// hostTrack is what the producer knows of one host.
type hostTrack struct {
	name            string
	incident        int // -1: a host of the warm-up
	badFrom, badTo  time.Time
	sends           []sendMark
	window          int64 // start of the tumbling window counted
	events, errors  int64
	condAt          time.Time // first send after which the window met the rule
	firing, resolve int
}

// firstSend returns the send time of the host's first event stamped at
// or after ts.
func (h *hostTrack) firstSend(ts int64) (time.Time, bool) {
	i := sort.Search(len(h.sends), func(i int) bool { return h.sends[i].ts >= ts })
	if i == len(h.sends) {
		return time.Time{}, false
	}
	return h.sends[i].wall, true
}

type seenAlert struct {
	al       *schemas.Alert
	kafkaTs  time.Time
	received time.Time
}

type alertRun struct {
	interval         time.Duration
	sent             int
	sendRate         float64
	maxBacklog       int64
	firing, resolved int
	unknown          int // alerts for hosts of the warm-up or decode errors
	missed           int // incidents without a FIRING alert
	proc, cond, recv []float64
	fromBad          []float64
	hist             histSummary
	events, late     int64
	updates          int64
}

func alertLatency(ctx context.Context, set *codecs.Set, cfg alertConfig) error {
	rules, err := alerter.ParseRules([]byte(alertRulesYAML))
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	var runs []alertRun
	for _, iv := range cfg.intervals {
		fmt.Fprintf(os.Stderr, "alert latency: update interval %s, %d events/s, %d incidents every %s\n", iv, cfg.rate, cfg.incidents, cfg.every)
		run, err := alertLatencyRun(ctx, set, cfg, rules, iv)
		if err != nil {
			return fmt.Errorf("alert latency, update interval %s: %w", iv, err)
		}
		runs = append(runs, run)
	}
	fmt.Printf("\nalert latency under load: errorrate + alerter, %s state, %d partitions, %d events/s (event time = send time) from %d hosts at once;\n"+
		"  %d incidents, one every %s: a new host, healthy %s ±50%%, then %.0f%% timeouts for %s (baseline %.0f%% HTTP 500s); threshold rule %.0f%%, min_events %d, for: 0s, resolve_for: 0s\n",
		cfg.storage, cfg.partitions, cfg.rate, cfg.slots, cfg.incidents, cfg.every, cfg.healthy, badErrors*100, cfg.bad, baseErrors*100, fireRate*100, minEvents)
	for _, r := range runs {
		fmt.Printf("\n  update interval %s: %d events sent (%.0f/s), %d counted (%d late), max backlog %d events; %d updates; %d FIRING, %d RESOLVED, %d missed incidents, %d other alerts\n",
			r.interval, r.sent, r.sendRate, r.events, r.late, r.maxBacklog, r.updates, r.firing, r.resolved, r.missed, r.unknown)
		fmt.Printf("    %-62s %s\n", "processing: alert Kafka ts - send of the event stamped At", pcts(r.proc))
		fmt.Printf("    %-62s %s\n", "condition: alert Kafka ts - send of the event meeting the rule", pcts(r.cond))
		fmt.Printf("    %-62s %s\n", "consumer: alert received - send of the event stamped At", pcts(r.recv))
		fmt.Printf("    %-62s %s\n", "from the host turning bad to the alert's Kafka ts", pcts(r.fromBad))
		fmt.Printf("    %-62s %s\n", "alerter histogram (update written -> alert written)", r.hist)
	}
	return nil
}

func alertLatencyRun(ctx context.Context, set *codecs.Set, cfg alertConfig, rules alerter.Rules, interval time.Duration) (alertRun, error) {
	res := alertRun{interval: interval}
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return res, err
	}
	defer e.close()
	st, _, cleanup, err := storageFor(cfg.storage)
	if err != nil {
		return res, err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{
		Stages: []string{"errorrate", "alerter"}, Storage: st, Rules: &rules,
		ErrorRate: pipeline.ErrorRateOptions{UpdateInterval: interval},
	})
	if err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			r.stop()
		}
	}()
	reg := prometheus.NewRegistry()
	if err := reg.Register(latencyCollector(r.p.Alerter().Stats().Collectors())); err != nil {
		return res, err
	}

	// The alerts topic, read as paging would read it.
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topology.TopicAlerts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	var seen []seenAlert
	cctx, ccancel := context.WithCancel(ctx)
	cdone := make(chan struct{})
	go func() {
		defer close(cdone)
		for {
			fs := cons.PollFetches(cctx)
			if cctx.Err() != nil {
				return
			}
			now := time.Now()
			fs.EachRecord(func(rec *kgo.Record) {
				al, err := set.Alert.Unmarshal(rec.Value)
				mu.Lock()
				if err == nil {
					seen = append(seen, seenAlert{al: al, kafkaTs: rec.Timestamp, received: now})
				} else {
					res.unknown++
				}
				mu.Unlock()
			})
		}
	}()
	defer func() {
		ccancel()
		<-cdone
		cons.Close()
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(topology.Partitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(200000))
	if err != nil {
		return res, err
	}
	defer prod.Close()
	var perr error
	var perrOnce sync.Once

	es := r.p.ErrorRate().Stats()
	hosts := map[string]*hostTrack{}
	slots := make([]*hostTrack, cfg.slots)
	t0 := time.Now()
	for s := range slots {
		slots[s] = &hostTrack{name: fmt.Sprintf("pay-gw-%d", s+1), incident: -1}
		hosts[slots[s].name] = slots[s]
	}
	incStart := func(k int) time.Time { return t0.Add(cfg.warmup + time.Duration(k)*cfg.every) }
	end := incStart(cfg.incidents).Add(cfg.healthy*3/2 + cfg.bad)
	jitter := rand.New(rand.NewPCG(salt, 13))
	rng := rand.New(rand.NewPCG(salt, 11))
	windowMs := int64(time.Minute / time.Millisecond) // the stage's default tumbling window
	next, sent := 0, 0
	lastCheck := t0
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		for next < cfg.incidents && !now.Before(incStart(next)) {
			start := incStart(next)
			healthy := cfg.healthy/2 + time.Duration(jitter.Int64N(int64(cfg.healthy)+1))
			h := &hostTrack{name: fmt.Sprintf("pay-gw-%d-inc%02d", next%cfg.slots+1, next+1), incident: next,
				badFrom: start.Add(healthy), badTo: start.Add(healthy + cfg.bad)}
			slots[next%cfg.slots] = h
			hosts[h.name] = h
			next++
		}
		due := int(float64(cfg.rate) * now.Sub(t0).Seconds())
		for ; sent < due; sent++ {
			now := time.Now()
			h := slots[sent%len(slots)]
			ts := now.UnixMilli()
			failing := !now.Before(h.badFrom) && now.Before(h.badTo)
			ev := &schemas.LogEvent{
				EventID: hexID(salt^0xa1e7, sent), Timestamp: ts, Host: h.name, Service: "payment-gateway",
				Level: schemas.LevelInfo, HTTPStatus: ptr(int32(200)), Message: "POST /api/v1/pay 200 12.5ms",
				Source: "/var/log/containers/" + h.name + "_payments_gateway.log", Format: "combined", Cluster: "eu-west-1",
			}
			// Latencies of 1-500 ms (the stage keeps a latency sketch per
			// pane), a timeout's its own.
			lat := 1 + float64(rng.IntN(50000))/100
			isErr := false
			switch u := rng.Float64(); {
			case u < baseErrors:
				ev.Level, ev.HTTPStatus, ev.Message, isErr = schemas.LevelError, ptr(int32(500)), "POST /api/v1/pay 500 3.1ms", true
				lat = 3.1
			case failing && u < badErrors:
				ms := 1000 + rng.IntN(4000)
				ev.Level, ev.HTTPStatus, isErr = schemas.LevelWarn, nil, true
				ev.Message = fmt.Sprintf("timeout after %d ms to 10.0.4.7:3306", ms)
				lat = float64(ms)
			}
			if cfg.latencies {
				ev.LatencyMs = ptr(lat)
			}
			v, err := set.LogEvent.Marshal(ev)
			if err != nil {
				return res, err
			}
			if n := len(h.sends); n == 0 || h.sends[n-1].ts != ts {
				h.sends = append(h.sends, sendMark{ts: ts, wall: now})
			}
			prod.Produce(ctx, &kgo.Record{Topic: topology.TopicUnique, Key: []byte(ev.EventID), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					perrOnce.Do(func() { perr = err })
				}
			})
			// The host's tumbling window as the alerter will judge it.
			if w := ts - ts%windowMs; w != h.window {
				h.window, h.events, h.errors = w, 0, 0
			}
			h.events++
			if isErr {
				h.errors++
			}
			if h.condAt.IsZero() && h.incident >= 0 && !now.Before(h.badFrom) &&
				h.events >= minEvents && float64(h.errors) >= fireRate*float64(h.events) {
				h.condAt = now
			}
		}
		if now.Sub(lastCheck) >= 100*time.Millisecond {
			lastCheck = now
			res.maxBacklog = max(res.maxBacklog, int64(sent)-counted(es))
		}
		time.Sleep(200 * time.Microsecond)
	}
	res.sent = sent
	res.sendRate = float64(sent) / time.Since(t0).Seconds()
	if err := prod.Flush(ctx); err != nil {
		return res, err
	}
	if perr != nil {
		return res, perr
	}
	// Every incident's FIRING alert (and the last ones' RESOLVED, by the
	// sweeper's timers) within 20 s.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	_ = r.waitFor(wctx, 50*time.Millisecond, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		firing := 0
		for _, s := range seen {
			if s.al.State == schemas.AlertFiring {
				firing++
			}
		}
		return firing >= cfg.incidents && counted(es) >= int64(sent), nil
	})
	wcancel()
	res.events, res.late, res.updates = counted(es), es.Late.Load(), es.Updates.Load()
	res.hist, err = gatherHist(reg, "logstream_alerter_alert_latency_seconds")
	if err != nil {
		return res, err
	}
	stopped = true
	if err := r.stop(); err != nil {
		return res, err
	}
	mu.Lock()
	defer mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, s := range seen {
		h := hosts[s.al.Host]
		if h == nil || h.incident < 0 {
			res.unknown++
			continue
		}
		if s.al.State != schemas.AlertFiring {
			res.resolved++
			h.resolve++
			continue
		}
		res.firing++
		h.firing++
		if h.firing > 1 {
			continue // a second incident of the host: not what we measure
		}
		if sentAt, ok := h.firstSend(s.al.At); ok {
			res.proc = append(res.proc, ms(s.kafkaTs.Sub(sentAt)))
			res.recv = append(res.recv, ms(s.received.Sub(sentAt)))
		}
		if !h.condAt.IsZero() {
			res.cond = append(res.cond, ms(s.kafkaTs.Sub(h.condAt)))
		}
		res.fromBad = append(res.fromBad, ms(s.kafkaTs.Sub(h.badFrom)))
	}
	for _, h := range hosts {
		if h.incident >= 0 && h.firing == 0 {
			res.missed++
		}
	}
	return res, nil
}

// pcts renders p50/p99/max (nearest rank) of milliseconds.
func pcts(xs []float64) string {
	if len(xs) == 0 {
		return "n=0"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(p float64) float64 { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return fmt.Sprintf("n=%d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  min %7.1f ms", len(s), at(0.5), at(0.99), s[len(s)-1], s[0])
}

// latencyCollector picks the alert latency histogram from the alerter's
// collectors.
func latencyCollector(cs []prometheus.Collector) prometheus.Collector {
	for _, c := range cs {
		if _, ok := c.(prometheus.Histogram); ok {
			return c
		}
	}
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "logstream_alerter_alert_latency_seconds", Help: "missing"})
}

// histSummary is a Prometheus histogram's count, mean and quantiles
// estimated as histogram_quantile does (linear within a bucket).
type histSummary struct {
	count    uint64
	mean     float64
	p50, p99 float64
}

func (h histSummary) String() string {
	if h.count == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d  p50 %7.1f ms  p99 %7.1f ms  mean %7.1f ms  (bucket estimates)", h.count, h.p50*1e3, h.p99*1e3, h.mean*1e3)
}

func gatherHist(reg *prometheus.Registry, name string) (histSummary, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return histSummary{}, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		out := histSummary{count: h.GetSampleCount()}
		if out.count == 0 {
			return out, nil
		}
		out.mean = h.GetSampleSum() / float64(out.count)
		q := func(p float64) float64 {
			rank := p * float64(out.count)
			lower, below := 0.0, uint64(0)
			for _, b := range h.GetBucket() {
				if float64(b.GetCumulativeCount()) >= rank {
					in := b.GetCumulativeCount() - below
					if in == 0 {
						return b.GetUpperBound()
					}
					return lower + (b.GetUpperBound()-lower)*(rank-float64(below))/float64(in)
				}
				lower, below = b.GetUpperBound(), b.GetCumulativeCount()
			}
			return math.Inf(1)
		}
		out.p50, out.p99 = q(0.5), q(0.99)
		return out, nil
	}
	return histSummary{}, fmt.Errorf("histogram %s not found", name)
}

// parseDurations parses a comma-separated list of durations.
func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", f)
		}
		out = append(out, d)
	}
	return out, nil
}
