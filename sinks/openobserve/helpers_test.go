package openobserve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve/o2test"
)

const (
	testTopic  = "logs.enriched"
	testStream = "logs"
)

var (
	codecsOnce sync.Once
	codecSet   *codecs.Set
	codecsErr  error
)

func testCodecs(t testing.TB) *codecs.Set {
	t.Helper()
	codecsOnce.Do(func() { codecSet, codecsErr = codecs.NewSet() })
	if codecsErr != nil {
		t.Fatal(codecsErr)
	}
	return codecSet
}

// event is the LogEvent of a test record: its id names the partition and
// offset, so a stored document can be traced back.
func event(partition int32, offset int64, at time.Time) *schemas.LogEvent {
	status := int32(200 + offset%5)
	return &schemas.LogEvent{
		EventID:    fmt.Sprintf("ev-%d-%d", partition, offset),
		Timestamp:  at.UnixMilli(),
		Host:       fmt.Sprintf("web-%d", offset%3),
		Service:    "checkout",
		Level:      schemas.LevelInfo,
		Message:    fmt.Sprintf("GET /cart/%d 200", offset),
		HTTPStatus: &status,
		Labels:     map[string]string{"Env.Name": "prod", "team": "payments"},
		Source:     "/var/log/app.log",
		Format:     "json",
		Cluster:    "eu-1",
	}
}

// record encodes ev as the Avro record at (partition, offset).
func record(t testing.TB, partition int32, offset int64, ev *schemas.LogEvent) *kgo.Record {
	t.Helper()
	v, err := testCodecs(t).LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: testTopic, Partition: partition, Offset: offset, Value: v, Timestamp: time.UnixMilli(ev.Timestamp)}
}

// records makes n records of partition 0 from offset first, timed now.
func records(t testing.TB, first int64, n int) []*kgo.Record {
	t.Helper()
	now := time.Now()
	out := make([]*kgo.Record, n)
	for i := range out {
		off := first + int64(i)
		out[i] = record(t, 0, off, event(0, off, now.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}

// poison makes the record's document carry the server's poison field.
func poison(t testing.TB, partition int32, offset int64) *kgo.Record {
	ev := event(partition, offset, time.Now())
	ev.Labels["poison"] = "1"
	return record(t, partition, offset, ev)
}

// poisonField is the poison label as OpenObserve stores it.
const poisonField = "labels_poison"

// deadLetters records what a writer dead-letters.
type deadLetters struct {
	mu    sync.Mutex
	sent  map[int64][]error // by offset
	order []int64
	fail  error // returned instead of recording, when set
}

func newDeadLetters() *deadLetters { return &deadLetters{sent: map[int64][]error{}} }

func (d *deadLetters) Send(ctx context.Context, r *kgo.Record, cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.sent[r.Offset] = append(d.sent[r.Offset], cause)
	d.order = append(d.order, r.Offset)
	return nil
}

func (d *deadLetters) offsets() map[int64]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int64]bool{}
	for o := range d.sent {
		out[o] = true
	}
	return out
}

func (d *deadLetters) cause(o int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cs := d.sent[o]; len(cs) > 0 {
		return cs[len(cs)-1]
	}
	return nil
}

// testServer starts an o2test server.
func testServer(t testing.TB, opts o2test.Options) *o2test.Server {
	t.Helper()
	if opts.PoisonField == "" {
		opts.PoisonField = poisonField
	}
	srv := o2test.New(opts)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is a Config for srv with waits in milliseconds. Settle is
// 1 ms: the client goes through srv.Transport, so the server is done with
// any request the client gave up on before the writer sees the error.
func testConfig(t testing.TB, srv *o2test.Server) Config {
	return Config{
		URL:      srv.URL(),
		Org:      o2test.DefaultOrg,
		Stream:   testStream,
		User:     o2test.DefaultUser,
		Password: o2test.DefaultPassword,
		Gzip:     true,
		Decoder:  sinks.NewDecoder(testCodecs(t)),
		Timeout:  5 * time.Second,
		Settle:   time.Millisecond,
		Retry:    Retry{Initial: time.Millisecond, Max: 4 * time.Millisecond},

		HTTPClient: &http.Client{Transport: srv.Transport(nil)},
	}
}

func newSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter(t testing.TB, s *Sink, part int32, dead sinks.DeadLetters) *partition {
	t.Helper()
	pw, err := s.NewPartition(testTopic, part, dead)
	if err != nil {
		t.Fatal(err)
	}
	return pw.(*partition)
}

func addAll(t testing.TB, w sinks.PartitionWriter, recs []*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		if err := w.Add(context.Background(), r); err != nil {
			t.Fatalf("Add offset %d: %v", r.Offset, err)
		}
	}
}

// exactlyOnce checks that the stream holds each offset in want once and
// nothing else of the partition.
func exactlyOnce(t testing.TB, srv *o2test.Server, partition int32, want map[int64]bool) {
	t.Helper()
	got := srv.Offsets(o2test.DefaultOrg, testStream, testTopic, partition)
	var problems []string
	for o, n := range got {
		switch {
		case !want[o]:
			problems = append(problems, fmt.Sprintf("offset %d stored %d times, want none", o, n))
		case n != 1:
			problems = append(problems, fmt.Sprintf("offset %d stored %d times", o, n))
		}
	}
	for o := range want {
		if got[o] == 0 {
			problems = append(problems, fmt.Sprintf("offset %d missing", o))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("… %d more", len(problems)-20))
		}
		t.Fatalf("partition %d: not exactly once:\n%s", partition, strings.Join(problems, "\n"))
	}
}

func offsetRange(from, to int64, except ...int64) map[int64]bool {
	out := map[int64]bool{}
	for o := from; o < to; o++ {
		out[o] = true
	}
	for _, o := range except {
		delete(out, o)
	}
	return out
}

func isPermanent(err error) bool {
	var p *sinks.Permanent
	return errors.As(err, &p)
}
