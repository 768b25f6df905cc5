// Command sinkbench measures the two exactly-once sink writers (S3 and
// OpenObserve) on one embedded broker, against a franz-go consumer group
// that only reads and commits the same records, and prints records/s, MB/s
// and each writer's ratio to that baseline. Machines here are noisy: only
// the ratios within one run are meaningful.
//
// One kfake broker holds N LogEvents (Avro, about 400 B each) on
// logs.enriched. Every measurement is a fresh consumer group over all of
// them, and for the writers a fresh store:
//
//   - baseline: a franz-go group consumer (the Runner's fetch settings)
//     that reads every record and commits at the end;
//   - s3 → versitygw: the S3 sink (conditional mode, gzip NDJSON) against a
//     real S3-compatible server in its own process (.tools/bin/versitygw,
//     installed by make tools / make test), a fresh bucket per run;
//   - s3 → s3local: the same against the in-process S3 server;
//   - openobserve → o2test: the OpenObserve sink (_json, gzip) against the
//     in-process OpenObserve test server.
//
// A writer is timed from the moment its Runner starts (store check, Kafka
// connection, group join included) until the group's committed offsets
// equal the partitions' end offsets, polled every 50 ms with kadm.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve"
	"github.com/logstream/logstream/sinks/openobserve/o2test"
	"github.com/logstream/logstream/sinks/s3"
	"github.com/logstream/logstream/sinks/s3/s3local"
	"github.com/logstream/logstream/topology"
)

// Credentials of the S3 servers started here.
const (
	accessKey = "sinkbench"
	secretKey = "sinkbench-secret-key"
)

type config struct {
	records, partitions, rounds int
	maxConcurrency              int
	s3Records, o2Batch          int
	maxAge                      time.Duration
	only                        map[string]bool
	cpuprofile                  string
	timeout                     time.Duration
}

func main() {
	var (
		n          = flag.Int("records", 200000, "LogEvents on logs.enriched")
		partitions = flag.Int("partitions", 6, "partitions of logs.enriched")
		rounds     = flag.Int("rounds", 2, "measure everything this many times (order rotating) and report the best of each")
		conc       = flag.Int("max-concurrency", sinks.DefaultMaxConcurrency, "the Runner's MAX_CONCURRENCY (flushes in flight over all partitions)")
		s3Records  = flag.Int("s3-records", s3.DefaultMaxRecords, "S3: records per object (BATCH_SIZE)")
		o2Batch    = flag.Int("o2-batch", openobserve.DefaultBatchSize, "OpenObserve: records per request")
		maxAge     = flag.Duration("max-age", time.Second, "both writers: a partial object/batch is written this long after its first record")
		only       = flag.String("only", "versitygw,s3local,openobserve", "writers to measure, comma-separated (the baseline always runs)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of this process during each measurement of round 1 to FILE.<name>")
		timeout    = flag.Duration("timeout", 5*time.Minute, "give up on a measurement after this long")
	)
	flag.Parse()
	cfg := config{records: *n, partitions: *partitions, rounds: *rounds, maxConcurrency: *conc,
		s3Records: *s3Records, o2Batch: *o2Batch, maxAge: *maxAge, only: map[string]bool{}, cpuprofile: *cpuprofile, timeout: *timeout}
	for _, s := range strings.Split(*only, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "versitygw", "s3local", "openobserve":
			cfg.only[s] = true
		default:
			fmt.Fprintf(os.Stderr, "sinkbench: -only %q: want versitygw, s3local or openobserve\n", s)
			os.Exit(2)
		}
	}
	if cfg.records <= 0 || cfg.partitions <= 0 || cfg.rounds <= 0 {
		fmt.Fprintln(os.Stderr, "sinkbench: -records, -partitions and -rounds must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sinkbench:", err)
		os.Exit(1)
	}
}

// result is one measurement.
type result struct {
	elapsed time.Duration
	// Phases: start → first record handed to a writer (store check,
	// connect, group join, first fetch); → last record handed over; → the
	// last commit (the last partial objects/batches: MaxAge, upload,
	// commit). Zero where unknown.
	firstRecord, lastRecord time.Duration
	written                 float64 // bytes written to the store (compressed)
	units                   float64 // objects (S3) or ingest requests (O2)
	stored                  float64 // records the store confirmed
}

func (r result) rate(n int) float64 { return float64(n) / r.elapsed.Seconds() }

// measurement is one row of the table.
type measurement struct {
	name, label string
	run         func(ctx context.Context, round int) (result, error)
}

func run(ctx context.Context, cfg config) error {
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Printf("sinkbench: %d records, %d partitions, %d rounds, GOMAXPROCS=%d, NumCPU=%d, %s, %s, %s\n",
		cfg.records, cfg.partitions, cfg.rounds, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), host, time.Now().UTC().Format(time.RFC3339))

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(int32(cfg.partitions), topology.TopicEnriched), kfake.SeedTopics(1, topology.TopicDLQ))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	in, err := produce(ctx, brokers, set, cfg.records)
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topology.TopicEnriched)
	if err != nil {
		return err
	}
	end := map[int32]int64{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset; total += o.Offset })
	if total != int64(cfg.records) {
		return fmt.Errorf("logs.enriched holds %d records, want %d", total, cfg.records)
	}
	fmt.Printf("input: %d LogEvents on %s, %.1f MB of Avro (%.0f B/record), %d..%d per partition\n",
		cfg.records, topology.TopicEnriched, float64(in.avroBytes)/1e6, float64(in.avroBytes)/float64(cfg.records), minOf(end), maxOf(end))
	if err := singleCore(set, in.sample); err != nil {
		return err
	}

	// The baseline takes a tenth of a second, so one try is at the mercy
	// of the machine's noise: each round keeps the best of three.
	ms := []measurement{{name: "baseline", label: "franz-go consumer group (read + commit, no sink)", run: func(ctx context.Context, round int) (result, error) {
		var best result
		for try := 1; try <= 3; try++ {
			res, err := baseline(ctx, brokers, cfg, fmt.Sprintf("%d-%d", round, try))
			if err != nil {
				return result{}, err
			}
			if best.elapsed == 0 || res.elapsed < best.elapsed {
				best = res
			}
		}
		return best, nil
	}}}
	w := writerEnv{cfg: cfg, set: set, brokers: brokers, adm: adm, end: end}
	var skipped []string
	if cfg.only["versitygw"] {
		vg, err := startVersitygw(ctx)
		switch {
		case errors.Is(err, errNoVersitygw):
			msg := "versitygw not found (looked at $VERSITYGW, .tools/bin/versitygw and PATH): run `make tools` to install it into .tools/bin; skipping the S3 → versitygw row"
			fmt.Fprintln(os.Stderr, "sinkbench:", msg)
			skipped = append(skipped, msg)
		case err != nil:
			return err
		default:
			defer vg.stop()
			ms = append(ms, measurement{name: "s3-versitygw", label: "S3 sink → versitygw (posix, own process)", run: func(ctx context.Context, round int) (result, error) {
				return w.s3Versitygw(ctx, vg, round)
			}})
		}
	}
	if cfg.only["s3local"] {
		ms = append(ms, measurement{name: "s3-s3local", label: "S3 sink → s3local (in-process)", run: w.s3Local})
	}
	if cfg.only["openobserve"] {
		ms = append(ms, measurement{name: "openobserve", label: "OpenObserve sink → o2test (in-process)", run: w.openObserve})
	}

	results := map[string][]result{}
	for r := 0; r < cfg.rounds; r++ {
		for k := range ms {
			m := ms[(k+r)%len(ms)]
			runtime.GC()
			var prof *os.File
			if cfg.cpuprofile != "" && r == 0 {
				if prof, err = os.Create(cfg.cpuprofile + "." + m.name); err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(prof); err != nil {
					return err
				}
			}
			mctx, cancel := context.WithTimeout(ctx, cfg.timeout)
			res, err := m.run(mctx, r+1)
			cancel()
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, m.name, err)
			}
			results[m.name] = append(results[m.name], res)
			fmt.Fprintf(os.Stderr, "  round %d: %-13s %9.0f records/s  %6.2f s  (first record %s, last record %s)%s\n",
				r+1, m.name, res.rate(cfg.records), res.elapsed.Seconds(), fmtDur(res.firstRecord), fmtDur(res.lastRecord), storeNote(m.name, res))
		}
	}
	printTable(cfg, in, ms, results)
	for _, s := range skipped {
		fmt.Println("\nskipped:", s)
	}
	return nil
}

func storeNote(name string, r result) string {
	switch {
	case strings.HasPrefix(name, "s3"):
		return fmt.Sprintf(", %.0f objects, %.1f MB", r.units, r.written/1e6)
	case name == "openobserve":
		return fmt.Sprintf(", %.0f requests, %.1f MB", r.units, r.written/1e6)
	}
	return ""
}

func printTable(cfg config, in input, ms []measurement, results map[string][]result) {
	best := func(name string) result {
		rs := results[name]
		b := rs[0]
		for _, r := range rs[1:] {
			if r.elapsed < b.elapsed {
				b = r
			}
		}
		return b
	}
	base := best("baseline")
	fmt.Printf("\n%d LogEvents (%.1f MB Avro), %d partitions, best of %d; MaxConcurrency %d; S3 %d records/object, OpenObserve %d records/request, gzip, MaxAge %s for both\n\n",
		cfg.records, float64(in.avroBytes)/1e6, cfg.partitions, cfg.rounds, cfg.maxConcurrency, cfg.s3Records, cfg.o2Batch, cfg.maxAge)
	fmt.Println("| | records/s | Avro in, MB/s | written, MB/s | written (compressed) | ratio to baseline | per-round ratios | start → first record | → last record handed over (records/s) | → last commit |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range ms {
		b := best(m.name)
		secs := b.elapsed.Seconds()
		written, wrate, ratio, perRound := "–", "–", "1", ""
		if m.name != "baseline" {
			unit := "objects"
			if m.name == "openobserve" {
				unit = "requests"
			}
			written = fmt.Sprintf("%.1f MB in %.0f %s", b.written/1e6, b.units, unit)
			wrate = fmt.Sprintf("%.1f", b.written/1e6/secs)
			ratio = fmt.Sprintf("%.3f", b.rate(cfg.records)/base.rate(cfg.records))
			var rs []string
			for i, r := range results[m.name] {
				rs = append(rs, fmt.Sprintf("%.3f", r.rate(cfg.records)/results["baseline"][i].rate(cfg.records)))
			}
			perRound = strings.Join(rs, " ")
		}
		tail := "–"
		if b.lastRecord > 0 {
			tail = fmtDur(b.elapsed - b.lastRecord)
		}
		stream := "–"
		if d := b.lastRecord - b.firstRecord; d > 0 {
			stream = fmt.Sprintf("%s (%s)", fmtDur(d), commas(float64(cfg.records)/d.Seconds()))
		}
		fmt.Printf("| %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s |\n", m.label, commas(b.rate(cfg.records)),
			float64(in.avroBytes)/1e6/secs, wrate, written, ratio, perRound, fmtDur(b.firstRecord), stream, tail)
	}
}

// ---- input ----

type input struct {
	avroBytes int64
	sample    []*kgo.Record // the first records as produced, for the single-core costs
}

// produce writes n LogEvents to logs.enriched, keyed by event id and
// placed as the pipeline places them, stamped with the time of producing
// (OpenObserve accepts the last 5 h only).
func produce(ctx context.Context, brokers []string, set *codecs.Set, n int) (input, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(topology.Partitioner()),
		kgo.MaxBufferedRecords(50000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return input{}, err
	}
	defer cl.Close()
	g := newGen(42)
	var in input
	var (
		mu   sync.Mutex
		perr error
	)
	for i := 0; i < n; i++ {
		ev := g.event(time.Now())
		v, err := set.LogEvent.Marshal(ev)
		if err != nil {
			return input{}, err
		}
		in.avroBytes += int64(len(v))
		rec := &kgo.Record{Topic: topology.TopicEnriched, Key: []byte(ev.EventID), Value: v}
		if i < 20000 {
			in.sample = append(in.sample, rec)
		}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil && perr == nil {
				perr = err
			}
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return input{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	return in, perr
}

// gen makes enriched LogEvents: 24 hosts of 6 services, access and
// application messages, trace and span ids, Kubernetes fields, four
// labels and the trace join's fields; 350–450 B of Avro each.
type gen struct {
	r   *rand.Rand
	seq uint64
}

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

var (
	services = [...]struct{ name, ns, container string }{
		{"checkout", "shop", "checkout"}, {"payment-gateway", "payments", "gateway"}, {"catalog", "shop", "catalog-api"},
		{"auth", "identity", "auth-server"}, {"inventory", "warehouse", "inventory-svc"}, {"notifications", "messaging", "notifier"},
	}
	endpoints = [...]string{"/api/v1/orders", "/api/v1/cart/items", "/api/v2/payments/authorize", "/api/v1/products/search",
		"/api/v1/users/session", "/api/v1/stock/reserve", "/healthz", "/api/v1/notifications/email"}
	methods  = [...]string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	statuses = [...]int32{200, 200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 409, 500, 502, 503}
	appMsgs  = [...]string{
		"order %d accepted for customer cus_%08x, %d items, total %d.%02d EUR",
		"payment authorization for order %d took longer than expected; retrying with acquirer adyen-eu (attempt %d)",
		"cache miss for product catalog page %d, loaded %d entries from postgres in %d.%02d ms",
		"session refreshed for user usr_%08x from 10.%d.%d.%d",
		"timeout after %d ms waiting for inventory reservation of sku-%06d",
		"email notification queued for order %d, template order_confirmation_v%d",
	}
	regions = [...]string{"eu-west-1", "eu-central-1", "us-east-1"}
)

func (g *gen) hexid(nbytes int) string {
	b := make([]byte, nbytes)
	for i := 0; i < nbytes; i += 8 {
		var w [8]byte
		binary.BigEndian.PutUint64(w[:], g.r.Uint64())
		copy(b[i:], w[:])
	}
	return hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

func (g *gen) event(now time.Time) *schemas.LogEvent {
	g.seq++
	r := g.r
	si := r.IntN(len(services))
	svc := services[si]
	hostN := r.IntN(4)
	region := regions[si%len(regions)]
	host := fmt.Sprintf("k8s-%s-node-%02d", region, si*4+hostN)
	pod := fmt.Sprintf("%s-%s-%s", svc.name, []string{"7d9f8b6c5d", "5c7b9f6d48", "66f4d8c9b7", "8b5d7c9f44"}[hostN], g.hexid(8)[:5])
	level := schemas.LevelInfo
	var msg string
	var status *int32
	lat := float64(r.IntN(250000)) / 100
	format := "json"
	if r.IntN(2) == 0 {
		st := statuses[r.IntN(len(statuses))]
		status = ptr(st)
		switch {
		case st >= 500:
			level = schemas.LevelError
		case st >= 400:
			level = schemas.LevelWarn
		}
		msg = fmt.Sprintf(`%s %s/%d HTTP/1.1 %d %d %.1fms`, methods[r.IntN(len(methods))], endpoints[r.IntN(len(endpoints))],
			r.IntN(1000000), st, 200+r.IntN(40000), lat)
		format = "combined"
	} else {
		k := r.IntN(len(appMsgs))
		a, b, c, d := r.IntN(9000000), r.IntN(1<<30), r.IntN(250), r.IntN(100)
		switch k {
		case 1:
			level = schemas.LevelWarn
			msg = fmt.Sprintf(appMsgs[k], a, 1+r.IntN(3))
		case 3:
			msg = fmt.Sprintf(appMsgs[k], b, c, d, r.IntN(250))
		case 4:
			level = schemas.LevelError
			msg = fmt.Sprintf(appMsgs[k], 1000+r.IntN(9000), a%1000000)
		case 5:
			msg = fmt.Sprintf(appMsgs[k], a, 1+r.IntN(4))
		default:
			msg = fmt.Sprintf(appMsgs[k], a, b, c, d, r.IntN(100))
		}
	}
	ev := &schemas.LogEvent{
		EventID:      g.hexid(16),
		Timestamp:    now.UnixMilli(),
		Host:         host,
		Service:      svc.name,
		Level:        level,
		Message:      msg,
		HTTPStatus:   status,
		LatencyMs:    ptr(lat),
		K8sNamespace: ptr(svc.ns),
		K8sPod:       ptr(pod),
		K8sContainer: ptr(svc.container),
		Labels: map[string]string{"env": "prod", "region": region, "team": svc.ns,
			"version": fmt.Sprintf("v1.%d.%d", 30+si, hostN)},
		Source:  "/var/log/" + svc.name + "/" + svc.container + ".log",
		Format:  format,
		Cluster: "prod-" + region,
	}
	if r.IntN(10) < 8 {
		ev.TraceID, ev.SpanID = ptr(g.hexid(16)), ptr(g.hexid(8))
		ev.SpanService, ev.SpanOperation = svc.name, methods[r.IntN(len(methods))]+" "+endpoints[r.IntN(len(endpoints))]
		ev.SpanDurationUs = ptr(int64(lat * 1000))
		ev.SpanStatus, ev.RootOperation, ev.JoinStatus = "OK", "POST /api/v1/checkout", schemas.JoinJoined
		if level == schemas.LevelError {
			ev.SpanStatus = "ERROR"
		}
	} else {
		ev.JoinStatus = schemas.JoinNoTrace
	}
	return ev
}

// singleCore prints what one record costs on one core outside the
// writers: the Decoder (Avro → JSON document) and gzip of the NDJSON, and
// the JSON's size, so that the table's times can be split up.
func singleCore(set *codecs.Set, sample []*kgo.Record) error {
	dec := sinks.NewDecoder(set)
	docs := make([][]byte, 0, len(sample))
	start := time.Now()
	for i, r := range sample {
		rec := *r
		rec.Partition, rec.Offset = 0, int64(i)
		d, err := dec.Decode(&rec)
		if err != nil {
			return fmt.Errorf("decode sample: %w", err)
		}
		docs = append(docs, d.JSON)
	}
	decode := time.Since(start)
	var jsonBytes int
	for _, d := range docs {
		jsonBytes += len(d) + 1
	}
	n := float64(len(sample))
	fmt.Printf("one core, %d records: Decoder (Avro → JSON document) %.1f µs/record, JSON %.0f B/record\n",
		len(sample), decode.Seconds()*1e6/n, float64(jsonBytes)/n)
	for _, lv := range []struct {
		name  string
		level int
	}{{"default level (S3 objects)", gzip.DefaultCompression}, {"BestSpeed (OpenObserve requests)", gzip.BestSpeed}} {
		start = time.Now()
		z := gzipSize(docs, lv.level)
		gz := time.Since(start)
		fmt.Printf("  gzip %s: %.1f µs/record, %.0f B/record (%.1f×)\n", lv.name, gz.Seconds()*1e6/n, float64(z)/n, float64(jsonBytes)/float64(z))
	}
	return nil
}

// gzipSize is the size of docs as gzipped NDJSON at level.
func gzipSize(docs [][]byte, level int) int {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, level)
	for _, d := range docs {
		zw.Write(d)
		zw.Write([]byte{'\n'})
	}
	zw.Close()
	return buf.Len()
}

// ---- baseline ----

// baseline reads every record with a franz-go group consumer (the
// Runner's fetch settings, no writer) and commits at the end; timed from
// the client's creation (group join included) to the commit's answer.
func baseline(ctx context.Context, brokers []string, cfg config, id string) (result, error) {
	group := "sinkbench-baseline-" + id
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topology.TopicEnriched),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	var res result
	read := 0
	for read < cfg.records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return result{}, fmt.Errorf("read %d of %d records: %w", read, cfg.records, ctx.Err())
		}
		if err := fs.Err0(); err != nil {
			return result{}, err
		}
		if fs.NumRecords() > 0 && res.firstRecord == 0 {
			res.firstRecord = time.Since(start)
		}
		read += fs.NumRecords()
	}
	res.lastRecord = time.Since(start)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return result{}, err
	}
	res.elapsed = time.Since(start)
	cl.LeaveGroup()
	return res, nil
}

// ---- writers ----

type writerEnv struct {
	cfg     config
	set     *codecs.Set
	brokers []string
	adm     *kadm.Client
	end     map[int32]int64
}

// counter sums the counter (or gauge) family name of reg.
func counter(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func register(reg *prometheus.Registry, cs []prometheus.Collector) {
	for _, c := range cs {
		reg.MustRegister(c)
	}
}

// runWriter runs a Runner over sink with a fresh group and times it from
// its start until the group has committed every partition's end.
func (w writerEnv) runWriter(ctx context.Context, name string, round int, sink sinks.Sink) (result, error) {
	group := fmt.Sprintf("sinkbench-%s-%d", name, round)
	rm := sinks.NewMetrics()
	reg := prometheus.NewRegistry()
	register(reg, rm.Collectors())
	runner, err := sinks.NewRunner(sinks.Config{
		Brokers:        w.brokers,
		Group:          group,
		Topics:         []string{topology.TopicEnriched},
		Sink:           sink,
		Codecs:         w.set,
		MaxConcurrency: w.cfg.maxConcurrency,
		Logger:         zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger(),
		Metrics:        rm,
	})
	if err != nil {
		return result{}, err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- runner.Run(rctx) }()
	var res result
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var committed map[int32]int64
	for {
		select {
		case err := <-done:
			return result{}, fmt.Errorf("the writer stopped before committing the end: %v", err)
		case <-ctx.Done():
			return result{}, fmt.Errorf("committed %v of %v: %w", committed, w.end, ctx.Err())
		case <-tick.C:
		}
		consumed := counter(reg, "logstream_sink_records_consumed_total")
		if consumed > 0 && res.firstRecord == 0 {
			res.firstRecord = time.Since(start)
		}
		if int(consumed) >= w.cfg.records && res.lastRecord == 0 {
			res.lastRecord = time.Since(start)
		}
		offs, err := w.adm.FetchOffsets(ctx, group)
		if err != nil {
			continue // the group's coordinator may not know it yet
		}
		committed = map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topology.TopicEnriched && o.Err == nil {
				committed[o.Partition] = o.At
			}
		})
		all := true
		for p, e := range w.end {
			if committed[p] < e {
				all = false
			}
		}
		if all {
			res.elapsed = time.Since(start)
			break
		}
	}
	if res.lastRecord == 0 {
		res.lastRecord = res.elapsed // every record was handed over between two polls
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			return result{}, fmt.Errorf("writer stopped with: %w", err)
		}
	case <-time.After(30 * time.Second):
		return result{}, errors.New("the writer did not stop within 30 s")
	}
	return res, nil
}

func (w writerEnv) s3Config(endpoint, bucket string) s3.Config {
	return s3.Config{Bucket: bucket, Endpoint: endpoint, AccessKey: accessKey, SecretKey: secretKey,
		MaxRecords: w.cfg.s3Records, MaxAge: w.cfg.maxAge, Decoder: sinks.NewDecoder(w.set),
		Logger: zerolog.New(os.Stderr).Level(zerolog.WarnLevel)}
}

// runS3 runs the S3 writer against endpoint/bucket and reads its metrics.
func (w writerEnv) runS3(ctx context.Context, name string, round int, sink *s3.Sink) (result, error) {
	res, err := w.runWriter(ctx, name, round, sink)
	if err != nil {
		return result{}, err
	}
	reg := prometheus.NewRegistry()
	register(reg, sink.Metrics().Collectors())
	res.written = counter(reg, "logstream_sink_s3_bytes_total")
	res.units = counter(reg, "logstream_sink_s3_objects_total")
	res.stored = counter(reg, "logstream_sink_s3_records_total")
	if int(res.stored) != w.cfg.records {
		return result{}, fmt.Errorf("the objects hold %.0f records, want %d", res.stored, w.cfg.records)
	}
	return res, nil
}

func (w writerEnv) s3Local(ctx context.Context, round int) (result, error) {
	dir, err := os.MkdirTemp("", "sinkbench-s3local-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	const bucket = "sinkbench"
	srv, err := s3local.New(dir, s3local.WithCredentials(accessKey), s3local.WithBucket(bucket))
	if err != nil {
		return result{}, err
	}
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer srv.Close()
	sink, err := s3.New(ctx, w.s3Config(endpoint, bucket))
	if err != nil {
		return result{}, err
	}
	return w.runS3(ctx, "s3local", round, sink)
}

func (w writerEnv) s3Versitygw(ctx context.Context, vg *versitygw, round int) (result, error) {
	bucket := fmt.Sprintf("sinkbench-%d", round)
	sink, err := s3.New(ctx, w.s3Config(vg.endpoint, bucket))
	if err != nil {
		return result{}, err
	}
	if _, err := sink.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return result{}, fmt.Errorf("create bucket %s on versitygw: %w", bucket, err)
	}
	defer os.RemoveAll(filepath.Join(vg.root, bucket))
	return w.runS3(ctx, "versitygw", round, sink)
}

func (w writerEnv) openObserve(ctx context.Context, round int) (result, error) {
	srv := o2test.New(o2test.Options{Now: time.Now})
	srv.Start()
	defer srv.Close()
	cfg := openobserve.DefaultConfig()
	cfg.URL, cfg.Org, cfg.Stream = srv.URL(), o2test.DefaultOrg, "logstream"
	cfg.User, cfg.Password = o2test.DefaultUser, o2test.DefaultPassword
	cfg.Decoder = sinks.NewDecoder(w.set)
	cfg.BatchSize, cfg.MaxAge = w.cfg.o2Batch, w.cfg.maxAge
	cfg.Logger = zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	sink, err := openobserve.New(cfg)
	if err != nil {
		return result{}, err
	}
	res, err := w.runWriter(ctx, "openobserve", round, sink)
	if err != nil {
		return result{}, err
	}
	reg := prometheus.NewRegistry()
	register(reg, sink.Metrics().Collectors())
	res.written = counter(reg, "logstream_sink_openobserve_sent_bytes_total")
	res.stored = counter(reg, "logstream_sink_openobserve_records_written_total")
	st := srv.Stats()
	res.units = float64(st.IngestRequests)
	if st.Stored != w.cfg.records || int(res.stored) != w.cfg.records {
		return result{}, fmt.Errorf("the server stored %d records, the writer counted %.0f, want %d", st.Stored, res.stored, w.cfg.records)
	}
	return res, nil
}

// ---- versitygw ----

var errNoVersitygw = errors.New("versitygw not found")

type versitygw struct {
	endpoint string
	dir      string // ours: the root and the log
	root     string // the posix backend's root: a directory per bucket
	cmd      *exec.Cmd
	exited   chan error
}

// versitygwBinary finds versitygw as the S3 sink's tests do: $VERSITYGW,
// the repository's .tools/bin (make tools / make test install it), PATH.
func versitygwBinary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".tools", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	p, err := exec.LookPath("versitygw")
	if err != nil {
		return "", errNoVersitygw
	}
	return p, nil
}

func startVersitygw(ctx context.Context) (*versitygw, error) {
	bin, err := versitygwBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sinkbench-versitygw-")
	if err != nil {
		return nil, err
	}
	v := &versitygw{dir: dir, root: filepath.Join(dir, "root"), exited: make(chan error, 1)}
	if err := os.Mkdir(v.root, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	v.cmd = exec.Command(bin, "--port", addr, "posix", v.root)
	v.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	v.cmd.Stdout, v.cmd.Stderr = logf, logf
	if err := v.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { v.exited <- v.cmd.Wait() }()
	v.endpoint = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(v.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			fmt.Printf("versitygw: %s (pid %d) on %s, posix backend in %s\n", bin, v.cmd.Process.Pid, addr, v.root)
			return v, nil
		}
		select {
		case err := <-v.exited:
			b, _ := os.ReadFile(logf.Name())
			os.RemoveAll(dir)
			return nil, fmt.Errorf("versitygw exited: %v\n%s", err, b)
		case <-ctx.Done():
			v.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 30 s", addr)
		}
	}
}

// stop kills the versitygw this program started and removes its files.
func (v *versitygw) stop() {
	_ = v.cmd.Process.Kill()
	<-v.exited
	os.RemoveAll(v.dir)
}

// ---- formatting ----

func minOf(m map[int32]int64) int64 {
	vs := make([]int64, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return slices.Min(vs)
}

func maxOf(m map[int32]int64) int64 {
	vs := make([]int64, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return slices.Max(vs)
}

func fmtDur(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// commas formats v rounded, with thousands separators.
func commas(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
