package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"2/1041", ID{2, 1041}, true},
		{" 0/0 ", ID{0, 0}, true},
		{"logs.dlq/5/7", ID{5, 7}, true},
		{"2", ID{}, false},
		{"2/", ID{}, false},
		{"/7", ID{}, false},
		{"-1/7", ID{}, false},
		{"1/-7", ID{}, false},
		{"a/b", ID{}, false},
		{"logs.raw/1/2", ID{}, false},
		{"99999999999/1", ID{}, false},
	} {
		got, err := ParseID(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrBadID) || !strings.Contains(err.Error(), "PARTITION/OFFSET")) {
			t.Errorf("ParseID(%q): error %q does not say what an id looks like", tc.in, err)
		}
		if err == nil && tc.ok && !strings.HasPrefix(tc.in, "logs.dlq/") && got.String() != strings.TrimSpace(tc.in) {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

// scanFixture is logs.dlq with two partitions holding dead letters of
// several stages, reasons, sources and times, a record that is no
// DeadLetter, and a dead letter of an aborted transaction.
type scanFixture struct {
	addr string
	base time.Time
	ids  map[string]ID // by a name for each dead letter
	bad  ID            // the record that is no DeadLetter
}

func newScanFixture(t *testing.T) *scanFixture {
	t.Helper()
	addr := startBroker(t)
	createTopics(t, addr, map[string]int{topology.TopicDLQ: 2})
	set := newSet(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	letters := []struct {
		name      string
		partition int32
		dl        schemas.DeadLetter
	}{
		{"parse-text", 0, schemas.DeadLetter{OriginalKey: []byte("web-1"), OriginalValue: []byte{0xff, 0xfe}, SourceTopic: topology.TopicRaw, SourcePartition: 1, SourceOffset: 10,
			Stage: "parse", Error: "value is neither Avro (no C3 01 marker or Confluent zero byte) nor UTF-8 text", Time: base.UnixMilli()}},
		{"parse-schema", 0, schemas.DeadLetter{OriginalKey: []byte("web-2"), OriginalValue: []byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0}, SourceTopic: topology.TopicRaw, SourcePartition: 2, SourceOffset: 11,
			Stage: "parse", Error: "codecs: RawLog: fingerprint 0807060504030201 is no schema this build knows", Time: base.Add(time.Hour).UnixMilli()}},
		{"dedupe", 1, schemas.DeadLetter{OriginalKey: []byte("e1"), OriginalValue: []byte("x"), SourceTopic: topology.TopicParsed, SourcePartition: 0, SourceOffset: 3,
			Stage: "dedupe", Error: "dedupe: LogEvent has an empty event_id, so it cannot be deduplicated", Time: base.Add(2 * time.Hour).UnixMilli()}},
		{"spans", 1, schemas.DeadLetter{OriginalValue: []byte("y"), SourceTopic: topology.TopicOTLPSpans, SourcePartition: 4, SourceOffset: 5,
			Stage: "spans", Error: "span 0 \"GET /\": trace id is empty; Deadline Timeout", Time: base.Add(3 * time.Hour).UnixMilli()}},
		{"sink", 0, schemas.DeadLetter{OriginalKey: []byte("t1"), OriginalValue: []byte("z"), SourceTopic: topology.TopicEnriched, SourcePartition: 3, SourceOffset: 99,
			Stage: "sink-openobserve", Error: "openobserve answered 400: timeout parsing field", Time: base.Add(4 * time.Hour).UnixMilli()}},
	}
	f := &scanFixture{addr: addr, base: base, ids: map[string]ID{}}
	for _, l := range letters {
		dl := l.dl
		// The record timestamp is a moment after the dead letter's time,
		// as when a stage writes one.
		r := produce(t, addr, &kgo.Record{Topic: topology.TopicDLQ, Partition: l.partition, Key: dl.OriginalKey,
			Value: encodeLetter(t, set, &dl), Timestamp: time.UnixMilli(dl.Time).Add(20 * time.Millisecond)})[0]
		f.ids[l.name] = ID{r.Partition, r.Offset}
	}
	r := produce(t, addr, &kgo.Record{Topic: topology.TopicDLQ, Partition: 1, Value: []byte("not a dead letter"), Timestamp: base})[0]
	f.bad = ID{r.Partition, r.Offset}

	// A dead letter of a transaction that was aborted (the errorrate
	// stage's combine hop writes its dead letters in transactions) was
	// never one.
	tx, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("dlq-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	aborted := schemas.DeadLetter{OriginalValue: []byte("a"), SourceTopic: topology.TopicUnique, Stage: "errorrate", Error: "aborted", Time: base.UnixMilli()}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicDLQ, Partition: 0, Value: encodeLetter(t, set, &aborted), Timestamp: base}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	// A dead letter after the abort, so that the aborted one is not last.
	last := schemas.DeadLetter{OriginalValue: []byte("b"), SourceTopic: topology.TopicUnique, SourcePartition: 1, SourceOffset: 1, Stage: "tracejoin", Error: "tracejoin: no trace id", Time: base.Add(5 * time.Hour).UnixMilli()}
	r = produce(t, addr, &kgo.Record{Topic: topology.TopicDLQ, Partition: 0, Value: encodeLetter(t, set, &last), Timestamp: time.UnixMilli(last.Time)})[0]
	f.ids["tracejoin"] = ID{r.Partition, r.Offset}
	return f
}

func (f *scanFixture) scan(t *testing.T, flt Filter) ([]string, Summary) {
	t.Helper()
	byID := map[ID]string{}
	for n, id := range f.ids {
		byID[id] = n
	}
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Scan(ctx, Config{Brokers: []string{f.addr}}, flt, func(l *Letter) error {
		n, ok := byID[l.ID]
		if !ok {
			n = fmt.Sprintf("unexpected %s (%s: %s)", l.ID, l.Stage, l.Error)
		}
		got = append(got, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got, sum
}

// Every filter selects what it says, alone and combined; a record that is
// no DeadLetter is reported, not fatal; an aborted dead letter is not read.
func TestScanFilters(t *testing.T) {
	f := newScanFixture(t)
	all := []string{"dedupe", "parse-schema", "parse-text", "sink", "spans", "tracejoin"}
	for _, tc := range []struct {
		name string
		flt  Filter
		want []string
	}{
		{"everything", Filter{}, all},
		{"stage", Filter{Stage: "parse"}, []string{"parse-schema", "parse-text"}},
		{"stage is exact", Filter{Stage: "pars"}, nil},
		{"reason ignores case", Filter{Reason: "TIMEOUT"}, []string{"sink", "spans"}},
		{"source topic", Filter{SourceTopic: topology.TopicRaw}, []string{"parse-schema", "parse-text"}},
		{"since is inclusive", Filter{Since: f.base.Add(2 * time.Hour)}, []string{"dedupe", "sink", "spans", "tracejoin"}},
		{"until is exclusive", Filter{Until: f.base.Add(2 * time.Hour)}, []string{"parse-schema", "parse-text"}},
		{"since and until", Filter{Since: f.base.Add(time.Hour), Until: f.base.Add(3*time.Hour + time.Millisecond)}, []string{"dedupe", "parse-schema", "spans"}},
		{"since and stage", Filter{Since: f.base.Add(30 * time.Minute), Stage: "parse"}, []string{"parse-schema"}},
		{"since after everything", Filter{Since: f.base.Add(24 * time.Hour)}, nil},
		{"ids", Filter{IDs: []ID{f.ids["spans"], f.ids["parse-text"]}}, []string{"parse-text", "spans"}},
		{"ids and a filter", Filter{IDs: []ID{f.ids["spans"], f.ids["parse-text"]}, Stage: "spans"}, []string{"spans"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, sum := f.scan(t, tc.flt)
			if !slices.Equal(got, tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
			if sum.Matched != len(tc.want) {
				t.Errorf("Summary.Matched %d, want %d", sum.Matched, len(tc.want))
			}
			if len(tc.flt.IDs) == 0 && tc.flt.Since.IsZero() {
				if len(sum.Undecodable) != 1 || sum.Undecodable[0].ID != f.bad {
					t.Errorf("undecodable %v, want the record at %s", sum.Undecodable, f.bad)
				}
			}
		})
	}
}

// --since starts each partition at the offset of its first record written
// at or after the time (less the slack), rather than reading everything.
func TestScanSinceSkipsOlderRecords(t *testing.T) {
	f := newScanFixture(t)
	_, sum := f.scan(t, Filter{Since: f.base.Add(4 * time.Hour)})
	// Partition 0: the sink's and the tracejoin's; partition 1: none (its
	// last dead letter is three hours in).
	if sum.Read != 2 {
		t.Errorf("read %d records with --since, want 2 (the two written since)", sum.Read)
	}
	_, sum = f.scan(t, Filter{})
	if sum.Read != 7 {
		t.Errorf("read %d records without --since, want 7 (6 dead letters and the record that is none)", sum.Read)
	}
}

func TestScanAndGetByID(t *testing.T) {
	f := newScanFixture(t)
	cfg := Config{Brokers: []string{f.addr}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	l, err := Get(ctx, cfg, f.ids["parse-text"])
	if err != nil {
		t.Fatal(err)
	}
	if l.Stage != "parse" || string(l.OriginalKey) != "web-1" || l.Source() != "logs.raw/1/10" || !l.At().Equal(f.base) {
		t.Errorf("Get: %+v", l)
	}

	_, sum := f.scan(t, Filter{IDs: []ID{f.ids["dedupe"], {0, 999}}})
	if len(sum.Missing) != 1 || sum.Missing[0] != (ID{0, 999}) {
		t.Errorf("Missing = %v, want [0/999]", sum.Missing)
	}

	for _, tc := range []struct {
		id   ID
		is   error
		says string
	}{
		{ID{0, 999}, ErrNotFound, "not written yet"},
		{ID{7, 0}, ErrUnknownPartition, "partitions 0-1, not 7"},
		{f.bad, nil, "no DeadLetter"},
		// Offset 3 of partition 0 is the aborted dead letter, 4 the abort's marker.
		{ID{0, 3}, ErrNotFound, "aborted transaction"},
		{ID{0, 4}, ErrNotFound, "aborted transaction"},
	} {
		_, err := Get(ctx, cfg, tc.id)
		if err == nil || tc.is != nil && !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Get(%s) = %v; want an error that is %v and says %q", tc.id, err, tc.is, tc.says)
		}
	}
}
