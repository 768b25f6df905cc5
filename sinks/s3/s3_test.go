package s3

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/s3/s3local"
)

const (
	testAccessKey = "AKIALOGSTREAMTEST"
	testSecretKey = "logstream-test-secret"
	testTopic     = "logs.enriched"
	testPart      = int32(3)
)

// testBase is 10:15 UTC: records a few seconds apart stay in hour 10.
var testBase = time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)

// local is an s3local server with one bucket, on a port of its own.
type local struct {
	srv    *s3local.Server
	url    string
	bucket string
}

func startLocal(t *testing.T, bucket string, opts ...s3local.Option) *local {
	t.Helper()
	srv, err := s3local.New(t.TempDir(), append([]s3local.Option{s3local.WithCredentials(testAccessKey), s3local.WithBucket(bucket)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &local{srv: srv, url: url, bucket: bucket}
}

// testConfig is a sink configuration for endpoint, edited by edit.
func testConfig(endpoint, bucket string, edit func(c *Config)) Config {
	c := Config{
		Bucket: bucket, Prefix: "logs", Endpoint: endpoint, Region: "us-east-1",
		AccessKey: testAccessKey, SecretKey: testSecretKey,
		MaxAttempts: 1, MaxBackoff: 10 * time.Millisecond,
		MaxRecords: 1000, MaxAge: time.Hour,
		Logger: testLogger(), Metrics: NewMetrics(),
	}
	if edit != nil {
		edit(&c)
	}
	return withDecoder(c)
}

func newSink(t *testing.T, endpoint, bucket string, edit func(c *Config)) *Sink {
	t.Helper()
	s, err := New(context.Background(), testConfig(endpoint, bucket, edit))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeDead collects dead letters; err, when set, is what Send returns.
type fakeDead struct {
	mu     sync.Mutex
	recs   []*kgo.Record
	causes []error
	err    error
}

func (d *fakeDead) Send(ctx context.Context, r *kgo.Record, cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.recs, d.causes = append(d.recs, r), append(d.causes, cause)
	return nil
}

func (d *fakeDead) offsets() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int64
	for _, r := range d.recs {
		out = append(out, r.Offset)
	}
	return out
}

func newWriter(t *testing.T, s *Sink, dead sinks.DeadLetters) sinks.PartitionWriter {
	t.Helper()
	if dead == nil {
		dead = &fakeDead{}
	}
	pw, err := s.NewPartition(testTopic, testPart, dead)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pw.Close)
	return pw
}

// logRecord is a LogEvent record of the test partition at offset, with
// its own time at.
func logRecord(t *testing.T, offset int64, at time.Time, message string) *kgo.Record {
	t.Helper()
	v, err := mustCodecs().LogEvent.Marshal(&schemas.LogEvent{
		EventID: fmt.Sprintf("ev-%d", offset), Timestamp: at.UnixMilli(), Host: "web-1", Service: "payments",
		Level: schemas.LevelInfo, Message: message, Source: "test", Format: "json", Cluster: "c1",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The Kafka timestamp is far from the event's: the key must not use it.
	return &kgo.Record{Topic: testTopic, Partition: testPart, Offset: offset, Timestamp: at.Add(-72 * time.Hour), Value: v}
}

// records are offsets from..to (inclusive), a second apart from at.
func records(t *testing.T, from, to int64, at time.Time) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for o := from; o <= to; o++ {
		out = append(out, logRecord(t, o, at.Add(time.Duration(o-from)*time.Second), fmt.Sprintf("GET /api/charge %d", o)))
	}
	return out
}

// feed adds recs as the runner does: a Flush(false) whenever the writer
// is full.
func feed(t *testing.T, pw sinks.PartitionWriter, recs ...*kgo.Record) {
	t.Helper()
	ctx := context.Background()
	for _, r := range recs {
		if err := pw.Add(ctx, r); err != nil {
			t.Fatalf("add @%d: %v", r.Offset, err)
		}
		if pw.Full() {
			if err := pw.Flush(ctx, false); err != nil {
				t.Fatalf("flush after @%d: %v", r.Offset, err)
			}
		}
	}
}

func flush(t *testing.T, pw sinks.PartitionWriter, all bool) {
	t.Helper()
	if err := pw.Flush(context.Background(), all); err != nil {
		t.Fatalf("flush(all=%v): %v", all, err)
	}
}

func wantCommittable(t *testing.T, pw sinks.PartitionWriter, want int64) {
	t.Helper()
	if got := pw.Committable(); got != want {
		t.Fatalf("Committable() = %d, want %d", got, want)
	}
}

// objectKey is the key of the object starting at offset start in the
// hour of at.
func objectKey(prefix, topic string, partition int32, at time.Time, start int64, ext string) string {
	k := fmt.Sprintf("topic=%s/dt=%s/hour=%s/%s+%d+%020d%s", topic, at.UTC().Format("2006-01-02"), at.UTC().Format("15"), topic, partition, start, ext)
	if prefix != "" {
		k = prefix + "/" + k
	}
	return k
}

func ndjsonKey(at time.Time, start int64) string {
	return objectKey("logs", testTopic, testPart, at, start, ".ndjson.gz")
}

// objects returns the bucket's objects by key.
func (l *local) objects(t *testing.T) map[string]s3local.Object {
	t.Helper()
	objs, err := l.srv.Objects(l.bucket)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]s3local.Object{}
	for _, o := range objs {
		out[o.Key] = o
	}
	return out
}

func (l *local) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for k := range l.objects(t) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func wantKeys(t *testing.T, l *local, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := l.keys(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("objects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func getBody(t *testing.T, s *Sink, bucket, key string) []byte {
	t.Helper()
	out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ndjsonLines gunzips body and returns its lines.
func ndjsonLines(t *testing.T, body []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// objectOffsets returns the kafka_offset of each line of the object.
func objectOffsets(t *testing.T, s *Sink, bucket, key string) []int64 {
	t.Helper()
	var out []int64
	for _, l := range ndjsonLines(t, getBody(t, s, bucket, key)) {
		var v struct {
			Offset int64 `json:"kafka_offset"`
		}
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Offset)
	}
	return out
}

func offsetsOf(recs ...int64) []int64 { return recs }

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

func wantObject(t *testing.T, l *local, s *Sink, key string, offsets []int64) {
	t.Helper()
	o, ok := l.objects(t)[key]
	if !ok {
		t.Fatalf("no object %s (have %v)", key, l.keys(t))
	}
	if got := objectOffsets(t, s, l.bucket, key); !reflect.DeepEqual(got, offsets) {
		t.Fatalf("%s holds offsets %v, want %v", key, got, offsets)
	}
	want := map[string]string{
		MetaStartOffset: strconv.FormatInt(offsets[0], 10),
		MetaEndOffset:   strconv.FormatInt(offsets[len(offsets)-1], 10),
		MetaRecords:     strconv.Itoa(len(offsets)),
		MetaTopic:       testTopic,
		MetaPartition:   strconv.Itoa(int(testPart)),
	}
	if !reflect.DeepEqual(o.Metadata, want) {
		t.Fatalf("%s metadata %v, want %v", key, o.Metadata, want)
	}
}

func TestRotationByRecordCount(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "rotation-count")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 4 })
	pw := newWriter(t, s, nil)
	ctx := context.Background()
	recs := records(t, 100, 109, testBase)

	wantCommittable(t, pw, -1)
	for i, r := range recs[:4] {
		if err := pw.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
		if full := pw.Full(); full != (i == 3) {
			t.Fatalf("Full() = %v after %d records, MaxRecords 4", full, i+1)
		}
	}
	wantCommittable(t, pw, 100) // nothing stored yet
	wantKeys(t, l)
	flush(t, pw, false)
	wantCommittable(t, pw, 104)
	wantKeys(t, l, ndjsonKey(testBase, 100))
	wantObject(t, l, s, ndjsonKey(testBase, 100), span(100, 103))

	feed(t, pw, recs[4:]...)
	// 108 and 109 are the object being filled: a Flush(false) leaves them.
	if pw.Full() {
		t.Fatal("Full() with an object of 2 records of 4")
	}
	flush(t, pw, false)
	wantCommittable(t, pw, 108)
	wantKeys(t, l, ndjsonKey(testBase, 100), ndjsonKey(testBase, 104))
	flush(t, pw, true)
	wantCommittable(t, pw, 110)
	if !pw.Due().IsZero() {
		t.Fatalf("Due() = %v with nothing buffered", pw.Due())
	}
	wantKeys(t, l, ndjsonKey(testBase, 100), ndjsonKey(testBase, 104), ndjsonKey(testBase, 108))
	wantObject(t, l, s, ndjsonKey(testBase, 104), span(104, 107))
	wantObject(t, l, s, ndjsonKey(testBase, 108), span(108, 109))
	if ct := l.objects(t)[ndjsonKey(testBase, 108)].ContentType; ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	// readBack checks every key against the pattern and its lines.
	if got := readBack(t, s.Client(), l.bucket, "logs"); len(got) != 10 {
		t.Fatalf("read back %d records, want 10", len(got))
	}
	m := s.Metrics()
	if n := testutil.ToFloat64(m.objects.WithLabelValues(testTopic)); n != 3 {
		t.Fatalf("logstream_sink_s3_objects_total %v, want 3", n)
	}
	if n := testutil.ToFloat64(m.records.WithLabelValues(testTopic)); n != 10 {
		t.Fatalf("logstream_sink_s3_records_total %v, want 10", n)
	}
}

func TestRotationByBytes(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "rotation-bytes")
	const maxBytes = 1024
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxBytes = maxBytes })
	pw := newWriter(t, s, nil)
	var recs []*kgo.Record
	for o := int64(0); o < 20; o++ {
		msg := strings.Repeat("m", 100+int(o)*7)
		if o == 9 {
			msg = strings.Repeat("huge ", 400) // alone over MaxBytes
		}
		recs = append(recs, logRecord(t, o, testBase.Add(time.Duration(o)*time.Second), msg))
	}
	feed(t, pw, recs...)
	flush(t, pw, true)
	wantCommittable(t, pw, 20)

	keys := l.keys(t)
	if len(keys) < 4 {
		t.Fatalf("%d objects for 20 records of 250-400 bytes with MaxBytes %d: %v", len(keys), maxBytes, keys)
	}
	var all []int64
	var prevSize int
	var prevKey string
	for i, k := range keys {
		lines := ndjsonLines(t, getBody(t, s, l.bucket, k))
		size := 0
		for _, ln := range lines {
			size += len(ln) + 1
		}
		offs := objectOffsets(t, s, l.bucket, k)
		all = append(all, offs...)
		if size > maxBytes && len(lines) > 1 {
			t.Fatalf("%s: %d lines, %d bytes, over MaxBytes %d", k, len(lines), size, maxBytes)
		}
		if i > 0 && prevSize+len(lines[0])+1 <= maxBytes {
			t.Fatalf("%s (%d bytes) rotated although %s's first line (%d bytes) fitted", prevKey, prevSize, k, len(lines[0])+1)
		}
		if slices := fmt.Sprint(offs); offs[0] == 9 && slices != "[9]" {
			t.Fatalf("the record over MaxBytes shares its object: %v", offs)
		}
		prevSize, prevKey = size, k
		wantObject(t, l, s, k, offs)
	}
	if !reflect.DeepEqual(all, span(0, 19)) {
		t.Fatalf("objects hold %v", all)
	}
}

func TestRotationByHour(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "rotation-hour")
	s := newSink(t, l.url, l.bucket, nil)
	pw := newWriter(t, s, nil)
	ctx := context.Background()
	day := time.Date(2026, 11, 21, 23, 59, 58, 0, time.UTC)
	times := []time.Time{
		day,                                     // 0: 21st, hour 23
		day.Add(1999 * time.Millisecond),        // 1: 23:59:59.999
		day.Add(2 * time.Second),                // 2: 22nd 00:00:00.000
		day.Add(2*time.Second + 30*time.Minute), // 3: 00:30
		day.Add(2*time.Second + time.Hour),      // 4: 01:00
		day.Add(time.Second),                    // 5: late, back in hour 23 of the 21st
	}
	for i, at := range times {
		if err := pw.Add(ctx, logRecord(t, int64(i), at, "x")); err != nil {
			t.Fatal(err)
		}
		// Crossing an hour (either way) closes the object being filled.
		if full := pw.Full(); full != (i == 2 || i == 4 || i == 5) {
			t.Fatalf("Full() = %v after record %d at %s", full, i, at)
		}
		flush(t, pw, false)
	}
	wantCommittable(t, pw, 5)
	flush(t, pw, true)
	wantCommittable(t, pw, 6)
	next := day.Add(2 * time.Second)
	wantKeys(t, l, ndjsonKey(day, 0), ndjsonKey(next, 2), ndjsonKey(next.Add(time.Hour), 4), ndjsonKey(day, 5))
	if k := ndjsonKey(next, 2); !strings.Contains(k, "/dt=2026-11-22/hour=00/") {
		t.Fatalf("key %s", k)
	}
	wantObject(t, l, s, ndjsonKey(day, 0), offsetsOf(0, 1))
	wantObject(t, l, s, ndjsonKey(next, 2), offsetsOf(2, 3))
	wantObject(t, l, s, ndjsonKey(next.Add(time.Hour), 4), offsetsOf(4))
	wantObject(t, l, s, ndjsonKey(day, 5), offsetsOf(5))
	readBack(t, s.Client(), l.bucket, "logs")
}

func TestRotationByMaxAge(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "rotation-age")
	var (
		mu  sync.Mutex
		now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxAge = 30 * time.Second; c.Now = clock })
	pw := newWriter(t, s, nil)
	t0 := clock()

	if !pw.Due().IsZero() {
		t.Fatal("Due() set with nothing buffered")
	}
	feed(t, pw, records(t, 0, 0, testBase)...)
	if due := pw.Due(); !due.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("Due() = %v, want first record's arrival + MaxAge = %v", due, t0.Add(30*time.Second))
	}
	advance(10 * time.Second)
	feed(t, pw, records(t, 1, 2, testBase.Add(time.Second))...)
	if due := pw.Due(); !due.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("Due() = %v after more records, want it kept at %v", due, t0.Add(30*time.Second))
	}
	if pw.Full() {
		t.Fatal("Full() with 3 records of 1000")
	}
	// Not full: a Flush(false) writes nothing.
	flush(t, pw, false)
	wantKeys(t, l)
	wantCommittable(t, pw, 0)

	// Due: the runner flushes all.
	advance(20 * time.Second)
	flush(t, pw, true)
	wantKeys(t, l, ndjsonKey(testBase, 0))
	wantObject(t, l, s, ndjsonKey(testBase, 0), span(0, 2))
	wantCommittable(t, pw, 3)
	if !pw.Due().IsZero() {
		t.Fatal("Due() set after everything was written")
	}

	// The next object's age counts from its own first record.
	advance(5 * time.Second)
	feed(t, pw, records(t, 3, 3, testBase.Add(time.Minute))...)
	if due := pw.Due(); !due.Equal(t0.Add(65 * time.Second)) {
		t.Fatalf("Due() = %v, want %v", due, t0.Add(65*time.Second))
	}
	advance(30 * time.Second)
	flush(t, pw, true)
	wantKeys(t, l, ndjsonKey(testBase, 0), ndjsonKey(testBase.Add(time.Minute), 3))
	wantCommittable(t, pw, 4)
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "key-format")
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		prefix    string
		topic     string
		partition int32
		offset    int64
		want      string
	}{
		{"logs", "logs.enriched", 3, 0, "logs/topic=logs.enriched/dt=2027-01-02/hour=03/logs.enriched+3+00000000000000000000.ndjson.gz"},
		// A topic that is not the pipeline's: a LogEvent on alerts would be
		// dead-lettered (not the record alerts carries).
		{"", "app.events", 0, 42, "topic=app.events/dt=2027-01-02/hour=03/app.events+0+00000000000000000042.ndjson.gz"},
		{"/a/b/", "logs.enriched", 12, 1 << 40, "a/b/topic=logs.enriched/dt=2027-01-02/hour=03/logs.enriched+12+00000001099511627776.ndjson.gz"},
	} {
		s := newSink(t, l.url, l.bucket, func(c *Config) { c.Prefix = tc.prefix })
		pw, err := s.NewPartition(tc.topic, tc.partition, &fakeDead{})
		if err != nil {
			t.Fatal(err)
		}
		r := logRecord(t, tc.offset, at, "k")
		r.Topic, r.Partition = tc.topic, tc.partition
		feed(t, pw, r)
		flush(t, pw, true)
		pw.Close()
		o, ok := l.objects(t)[tc.want]
		if !ok {
			t.Fatalf("prefix %q: no object %s; have %v", tc.prefix, tc.want, l.keys(t))
		}
		if o.Metadata[MetaTopic] != tc.topic || o.Metadata[MetaPartition] != strconv.Itoa(int(tc.partition)) ||
			o.Metadata[MetaStartOffset] != strconv.FormatInt(tc.offset, 10) || o.Metadata[MetaEndOffset] != strconv.FormatInt(tc.offset, 10) ||
			o.Metadata[MetaRecords] != "1" {
			t.Fatalf("%s: metadata %v", tc.want, o.Metadata)
		}
	}
	if n := len(l.keys(t)); n != 3 {
		t.Fatalf("%d objects, want 3: %v", n, l.keys(t))
	}
}

// putForeign creates an object at key as another writer would, with
// metadata md (nil: none).
func putForeign(t *testing.T, s *Sink, bucket, key string, md map[string]string) string {
	t.Helper()
	out, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("not ours\n")), Metadata: md,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ETag)
}

func chainMeta(start, end int64) map[string]string {
	return map[string]string{MetaStartOffset: strconv.FormatInt(start, 10), MetaEndOffset: strconv.FormatInt(end, 10),
		MetaRecords: strconv.FormatInt(end-start+1, 10), MetaTopic: testTopic, MetaPartition: strconv.Itoa(int(testPart))}
}

// TestConflictObjectBeyondBatch: an object at the writer's start key
// that ends beyond the writer's batch (a previous owner wrote more): the
// writer stores nothing of its batch, commits after the object's end and
// skips the records up to it.
func TestConflictObjectBeyondBatch(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "conflict-beyond")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 10 })
	key := ndjsonKey(testBase, 100)
	etag := putForeign(t, s, l.bucket, key, chainMeta(100, 120))
	pw := newWriter(t, s, nil)
	recs := records(t, 100, 124, testBase)
	feed(t, pw, recs[:10]...) // 100..109: full, flushed into the 412
	wantCommittable(t, pw, 121)
	wantKeys(t, l, key)
	if got := l.objects(t)[key].ETag; got != etag {
		t.Fatalf("the object in the way changed: ETag %s, was %s", got, etag)
	}
	if n := testutil.ToFloat64(s.Metrics().conflicts.WithLabelValues(testTopic)); n != 1 {
		t.Fatalf("logstream_sink_s3_conflicts_total %v, want 1", n)
	}

	// 110..120 are in that object: skipped, nothing buffered.
	feed(t, pw, recs[10:21]...)
	if !pw.Due().IsZero() || pw.Full() {
		t.Fatal("records the object in the way holds were buffered")
	}
	wantCommittable(t, pw, 121)
	feed(t, pw, recs[21:]...)
	wantCommittable(t, pw, 121)
	flush(t, pw, true)
	wantCommittable(t, pw, 125)
	wantKeys(t, l, key, ndjsonKey(testBase.Add(21*time.Second), 121))
	wantObject(t, l, s, ndjsonKey(testBase.Add(21*time.Second), 121), span(121, 124))
}

// TestConflictShorterObjects: objects in the way that end inside the
// writer's batch: it goes on after their ends, under the next key.
func TestConflictShorterObjects(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "conflict-shorter")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 10 })
	k100, k105 := ndjsonKey(testBase, 100), ndjsonKey(testBase.Add(5*time.Second), 105)
	putForeign(t, s, l.bucket, k100, chainMeta(100, 104))
	putForeign(t, s, l.bucket, k105, chainMeta(105, 106))
	pw := newWriter(t, s, nil)
	feed(t, pw, records(t, 100, 109, testBase)...)
	wantCommittable(t, pw, 110)
	k107 := ndjsonKey(testBase.Add(7*time.Second), 107)
	wantKeys(t, l, k100, k105, k107)
	wantObject(t, l, s, k107, span(107, 109))
	if n := testutil.ToFloat64(s.Metrics().conflicts.WithLabelValues(testTopic)); n != 2 {
		t.Fatalf("logstream_sink_s3_conflicts_total %v, want 2", n)
	}
}

// TestConflictLaterObjectsTrimmed: the object in the way ends inside a
// later closed object and inside the object being filled: both are
// trimmed to start after its end, which is where the chain goes on.
func TestConflictLaterObjectsTrimmed(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "conflict-trim")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 4 })
	k0 := ndjsonKey(testBase, 0)
	putForeign(t, s, l.bucket, k0, chainMeta(0, 5))
	pw := newWriter(t, s, nil)
	ctx := context.Background()
	// 0..3 and 4..7 closed, 8..9 being filled: add without flushing.
	for _, r := range records(t, 0, 9, testBase) {
		if err := pw.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	wantCommittable(t, pw, 0)
	flush(t, pw, false)
	k6 := ndjsonKey(testBase.Add(6*time.Second), 6)
	wantKeys(t, l, k0, k6)
	wantObject(t, l, s, k6, span(6, 7))
	wantCommittable(t, pw, 8)
	flush(t, pw, true)
	wantObject(t, l, s, ndjsonKey(testBase.Add(8*time.Second), 8), span(8, 9))
	wantCommittable(t, pw, 10)
}

// TestConflictLostResponse: the store applied a write but its answer was
// lost (a 500 after the write): the retry finds its own object (412) and
// goes on after it, without a second copy.
func TestConflictLostResponse(t *testing.T) {
	t.Parallel()
	srv, err := s3local.New(t.TempDir(), s3local.WithBucket("lost-response"))
	if err != nil {
		t.Fatal(err)
	}
	var lose sync.Map // keys whose next PUT answer is lost
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if _, ok := lose.LoadAndDelete(r.URL.Path); ok {
				srv.ServeHTTP(httptest.NewRecorder(), r) // applied...
				http.Error(w, "lost", http.StatusInternalServerError)
				return // ...but the answer is lost
			}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	l := &local{srv: srv, url: hs.URL, bucket: "lost-response"}
	s := newSink(t, hs.URL, l.bucket, func(c *Config) { c.MaxRecords = 5 })
	pw := newWriter(t, s, nil)
	key := ndjsonKey(testBase, 0)
	lose.Store("/"+l.bucket+"/"+key, true)
	ctx := context.Background()
	for _, r := range records(t, 0, 4, testBase) {
		if err := pw.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	err = pw.Flush(ctx, false)
	if err == nil {
		t.Fatal("Flush succeeded although the answer was lost")
	}
	var perm *sinks.Permanent
	if errors.As(err, &perm) {
		t.Fatalf("a lost answer is reported as permanent: %v", err)
	}
	wantCommittable(t, pw, 0)
	wantKeys(t, l, key) // it is there

	// The runner retries the same buffer.
	flush(t, pw, false)
	wantCommittable(t, pw, 5)
	wantKeys(t, l, key)
	wantObject(t, l, s, key, span(0, 4))
	feed(t, pw, records(t, 5, 6, testBase.Add(5*time.Second))...)
	flush(t, pw, true)
	wantKeys(t, l, key, ndjsonKey(testBase.Add(5*time.Second), 5))
	wantCommittable(t, pw, 7)
}

// TestConflictForeignObject: an object in the chain's way that logstream
// did not write is a permanent error naming its key; the writer neither
// overwrites it nor commits, and goes on once it is moved.
func TestConflictForeignObject(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "conflict-foreign")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 5 })
	key := ndjsonKey(testBase, 100)
	etag := putForeign(t, s, l.bucket, key, nil)
	pw := newWriter(t, s, nil)
	ctx := context.Background()
	for _, r := range records(t, 100, 104, testBase) {
		if err := pw.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; attempt <= 2; attempt++ {
		err := pw.Flush(ctx, false)
		var perm *sinks.Permanent
		if !errors.As(err, &perm) {
			t.Fatalf("attempt %d: Flush: %v, want a *sinks.Permanent", attempt, err)
		}
		if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), MetaEndOffset) {
			t.Fatalf("attempt %d: error %q does not name the key %s and the missing metadata", attempt, err, key)
		}
		wantCommittable(t, pw, 100)
	}
	if got := l.objects(t)[key].ETag; got != etag {
		t.Fatal("the foreign object was overwritten")
	}

	// Moved away: the same buffer is written.
	if _, err := s.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	flush(t, pw, false)
	wantObject(t, l, s, key, span(100, 104))
	wantCommittable(t, pw, 105)
}

// TestConflictBadMetadata: metadata that is not an offset, or an end
// before the key's own start, is a permanent error too, not a loop.
func TestConflictBadMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		md   map[string]string
		want string
	}{
		{"not a number", map[string]string{MetaEndOffset: "soon"}, "not an offset"},
		{"end before start", map[string]string{MetaStartOffset: "40", MetaEndOffset: "50"}, "50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLocal(t, "conflict-meta")
			s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 5 })
			key := ndjsonKey(testBase, 100)
			putForeign(t, s, l.bucket, key, tc.md)
			pw := newWriter(t, s, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, r := range records(t, 100, 104, testBase) {
				if err := pw.Add(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			err := pw.Flush(ctx, false)
			if ctx.Err() != nil {
				t.Fatalf("Flush looped until its context ended: %v", err)
			}
			var perm *sinks.Permanent
			if !errors.As(err, &perm) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Flush: %v, want a *sinks.Permanent naming %s and %q", err, key, tc.want)
			}
			wantCommittable(t, pw, 100)
			wantKeys(t, l, key)
		})
	}
}

// snapshot is a bucket's objects: key -> ETag and metadata.
func snapshot(t *testing.T, l *local) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, o := range l.objects(t) {
		out[k] = fmt.Sprintf("%s %v", o.ETag, o.Metadata)
	}
	return out
}

func sameObjects(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, fmt.Sprintf("%s: %q, want %q", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: extra object %q", k, v))
		}
	}
	sort.Strings(diff)
	t.Fatalf("%s: objects differ:\n%s", what, strings.Join(diff, "\n"))
}

// TestDeterministicReplay: in deterministic mode the objects depend on
// the records alone: a replay with a fresh writer, with other flush
// timings (partial uploads) or resumed from a crash at the committed
// offset, writes byte-identical objects under the same keys and no
// other key.
func TestDeterministicReplay(t *testing.T) {
	t.Parallel()
	hour11 := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for o := int64(0); o < 23; o++ {
		at := testBase.Add(time.Duration(o) * time.Minute) // 10:15...
		if o >= 12 {
			at = hour11.Add(time.Duration(o) * time.Second) // ...11:00 from offset 12
		}
		r := logRecord(t, o, at, fmt.Sprintf("deterministic %d", o))
		if o == 17 {
			r.Value = []byte("not avro: poison")
		}
		recs = append(recs, r)
	}
	cfg := func(c *Config) { c.Mode = ModeDeterministic; c.MaxRecords = 5 }
	h10 := testBase
	wantKeysList := []string{
		ndjsonKey(h10, 0), ndjsonKey(h10, 5), ndjsonKey(h10, 10), // slots 0-4, 5-9, 10-11 (hour 10)
		ndjsonKey(hour11, 12), ndjsonKey(hour11, 15), ndjsonKey(hour11, 20), // 12-14, 15-19 without 17, 20-22
	}

	// A: one writer, flushing when full and at the end.
	a := startLocal(t, "det-a")
	sa := newSink(t, a.url, a.bucket, cfg)
	dead := &fakeDead{}
	pw := newWriter(t, sa, dead)
	feed(t, pw, recs...)
	flush(t, pw, true)
	// Slot 20-24 is unfinished: its object was written so far, and the
	// commit stays at its start, for the complete object to replace it.
	wantCommittable(t, pw, 20)
	wantKeys(t, a, wantKeysList...)
	wantObject(t, a, sa, ndjsonKey(hour11, 15), offsetsOf(15, 16, 18, 19))
	wantObject(t, a, sa, ndjsonKey(h10, 10), offsetsOf(10, 11))
	wantObject(t, a, sa, ndjsonKey(hour11, 12), offsetsOf(12, 13, 14))
	if got := dead.offsets(); !reflect.DeepEqual(got, []int64{17}) {
		t.Fatalf("dead letters %v, want [17]", got)
	}
	want := snapshot(t, a)
	readBack(t, sa.Client(), a.bucket, "logs")

	// B: a fresh writer, partial uploads every 3 records.
	b := startLocal(t, "det-b")
	sb := newSink(t, b.url, b.bucket, cfg)
	pw = newWriter(t, sb, nil)
	for i, r := range recs {
		feed(t, pw, r)
		if i%3 == 2 {
			flush(t, pw, true)
			if !pw.Due().IsZero() {
				t.Fatal("Due() set right after a partial upload")
			}
		}
	}
	flush(t, pw, true)
	sameObjects(t, "partial uploads", snapshot(t, b), want)

	// C: a writer crashes after a partial upload; the next resumes at
	// its committable offset, the start of the partial object.
	c := startLocal(t, "det-c")
	sc := newSink(t, c.url, c.bucket, cfg)
	pw = newWriter(t, sc, nil)
	feed(t, pw, recs[:14]...) // ...10, 11 | 12, 13
	flush(t, pw, true)
	wantCommittable(t, pw, 12)
	wantObject(t, c, sc, ndjsonKey(hour11, 12), offsetsOf(12, 13)) // partial
	pw.Close()
	pw = newWriter(t, sc, nil)
	feed(t, pw, recs[12:]...)
	flush(t, pw, true)
	sameObjects(t, "resumed after a crash", snapshot(t, c), want)

	// D: a replay over A's bucket itself changes nothing.
	pw = newWriter(t, sa, nil)
	for i, r := range recs {
		feed(t, pw, r)
		if i%4 == 1 {
			flush(t, pw, true)
		}
	}
	flush(t, pw, true)
	sameObjects(t, "replay over the same bucket", snapshot(t, a), want)

	// Equal ETags: equal bodies. Check the bodies themselves too.
	for k := range want {
		ab, bb, cb := getBody(t, sa, a.bucket, k), getBody(t, sb, b.bucket, k), getBody(t, sc, c.bucket, k)
		if !bytes.Equal(ab, bb) || !bytes.Equal(ab, cb) {
			t.Fatalf("%s: bodies differ between the runs", k)
		}
	}
}

func TestParquetFormat(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "parquet-format")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.Format = FormatParquet; c.MaxRecords = 3 })
	pw := newWriter(t, s, nil)
	feed(t, pw, records(t, 0, 6, testBase)...)
	flush(t, pw, true)
	wantCommittable(t, pw, 7)
	pk := func(start int64) string {
		return objectKey("logs", testTopic, testPart, testBase.Add(time.Duration(start)*time.Second), start, ".parquet")
	}
	wantKeys(t, l, pk(0), pk(3), pk(6))
	objs := l.objects(t)
	for i, start := range []int64{0, 3, 6} {
		k := pk(start)
		body := getBody(t, s, l.bucket, k)
		if len(body) < 8 || !bytes.HasPrefix(body, []byte("PAR1")) || !bytes.HasSuffix(body, []byte("PAR1")) {
			t.Fatalf("%s: %d bytes, not a Parquet file", k, len(body))
		}
		if ct := objs[k].ContentType; ct != "application/vnd.apache.parquet" {
			t.Fatalf("%s: content type %q", k, ct)
		}
		rows := readParquet[logEventRow](t, body)
		want := min(3, 7-3*i)
		if len(rows) != want || rows[0].KafkaOffset != start || objs[k].Metadata[MetaRecords] != strconv.Itoa(want) {
			t.Fatalf("%s: %d rows from offset %d, metadata %v; want %d from %d", k, len(rows), rows[0].KafkaOffset, objs[k].Metadata, want, start)
		}
	}
}

// TestDeadLetterBadRecord: a record that cannot be decoded goes to the
// dead letters, never into an object, and the committable offset passes
// it only once the objects before it are stored.
func TestDeadLetterBadRecord(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "dead-letters")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.MaxRecords = 3 })
	dead := &fakeDead{}
	pw := newWriter(t, s, dead)
	ctx := context.Background()
	recs := records(t, 100, 107, testBase)
	recs[2].Value = []byte("not avro: garbage")
	dl, err := mustCodecs().DeadLetter.Marshal(&schemas.DeadLetter{SourceTopic: "logs.raw", Stage: "parse", Error: "x", OriginalValue: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	recs[4].Value = dl // a record of another schema

	add := func(r *kgo.Record) {
		t.Helper()
		if err := pw.Add(ctx, r); err != nil {
			t.Fatalf("add @%d: %v", r.Offset, err)
		}
	}
	add(recs[0])
	add(recs[1])
	add(recs[2]) // poison, after two buffered records
	if got := dead.offsets(); !reflect.DeepEqual(got, []int64{102}) {
		t.Fatalf("dead letters %v, want [102]", got)
	}
	if cause := dead.causes[0].Error(); !strings.Contains(cause, "102") || !strings.Contains(cause, "not Avro") {
		t.Fatalf("dead letter cause %q does not name the record and the problem", cause)
	}
	wantCommittable(t, pw, 100) // 100 and 101 are not stored yet
	add(recs[3])                // 100, 101, 103: complete
	if !pw.Full() {
		t.Fatal("not Full with 3 records of 3")
	}
	wantCommittable(t, pw, 100)
	flush(t, pw, false)
	wantCommittable(t, pw, 104) // past the dead letter now
	wantObject(t, l, s, ndjsonKey(testBase, 100), offsetsOf(100, 101, 103))

	add(recs[4]) // another schema, nothing buffered: committable at once
	if got := dead.offsets(); !reflect.DeepEqual(got, []int64{102, 104}) {
		t.Fatalf("dead letters %v, want [102 104]", got)
	}
	if cause := dead.causes[1].Error(); !strings.Contains(cause, "DeadLetter") {
		t.Fatalf("dead letter cause %q does not name the record's schema", cause)
	}
	wantCommittable(t, pw, 105)
	add(recs[5])
	wantCommittable(t, pw, 105)

	// The dead-letter topic cannot be written: Add fails and the record
	// is not passed.
	dead.mu.Lock()
	dead.err = errors.New("dlq: not leader")
	dead.mu.Unlock()
	poison := recs[6]
	poison.Value = []byte("not avro either")
	if err := pw.Add(ctx, poison); err == nil || !strings.Contains(err.Error(), "not leader") {
		t.Fatalf("Add with the dead-letter topic down: %v", err)
	}
	flush(t, pw, true)
	wantCommittable(t, pw, 106) // 105 stored, 106 not passed
	wantKeys(t, l, ndjsonKey(testBase, 100), ndjsonKey(testBase.Add(5*time.Second), 105))
	got := readBack(t, s.Client(), l.bucket, "logs")
	var offs []int64
	for _, k := range got {
		offs = append(offs, k.Offset)
	}
	if !reflect.DeepEqual(offs, []int64{100, 101, 103, 105}) {
		t.Fatalf("stored %v, want [100 101 103 105]", offs)
	}
}

func TestCheckOK(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "check-ok")
	for _, mode := range []Mode{ModeConditional, ModeDeterministic} {
		s := newSink(t, l.url, l.bucket, func(c *Config) { c.Mode = mode })
		if err := s.Check(context.Background()); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}
	wantKeys(t, l) // the probe is deleted
}

func checkErr(t *testing.T, s *Sink, permanent bool, want ...string) {
	t.Helper()
	err := s.Check(context.Background())
	if err == nil {
		t.Fatal("Check succeeded")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("Check: %q does not mention %q", err, w)
		}
	}
	var perm *sinks.Permanent
	if errors.As(err, &perm) != permanent {
		t.Fatalf("Check: %v: permanent %v, want %v", err, !permanent, permanent)
	}
}

func TestCheckMissingBucket(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "check-bucket")
	s := newSink(t, l.url, "no-such-bucket", nil)
	checkErr(t, s, true, `"no-such-bucket"`, "--s3-bucket", l.url)
}

func TestCheckWrongAccessKey(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "check-creds")
	s := newSink(t, l.url, l.bucket, func(c *Config) { c.AccessKey = "AKIAWRONGKEY" })
	checkErr(t, s, true, "AWS_ACCESS_KEY_ID", `"check-creds"`)

	// The same at write time: the flush error names the credentials.
	pw := newWriter(t, s, nil)
	feed(t, pw, records(t, 0, 0, testBase)...)
	err := pw.Flush(context.Background(), true)
	var perm *sinks.Permanent
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Flush with the wrong key: %v", err)
	}
	wantCommittable(t, pw, 0)
}

func TestCheckUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	s := newSink(t, url, "some-bucket", nil)
	// Not permanent: the endpoint may come up; the runner retries it.
	checkErr(t, s, false, "--s3-endpoint", url)
}

// stripConditional is a store that ignores If-None-Match: it overwrites.
func stripConditional(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("If-None-Match")
		h.ServeHTTP(w, r)
	})
}

func TestCheckNoConditionalWrites(t *testing.T) {
	t.Parallel()
	srv, err := s3local.New(t.TempDir(), s3local.WithBucket("no-conditional"))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(stripConditional(srv))
	t.Cleanup(hs.Close)
	s := newSink(t, hs.URL, "no-conditional", nil)
	checkErr(t, s, true, "--s3-mode deterministic", hs.URL)
	l := &local{srv: srv, bucket: "no-conditional"}
	wantKeys(t, l) // the probe is deleted

	// Deterministic mode needs no conditional writes.
	d := newSink(t, hs.URL, "no-conditional", func(c *Config) { c.Mode = ModeDeterministic })
	if err := d.Check(context.Background()); err != nil {
		t.Fatalf("deterministic mode: %v", err)
	}
}

func TestBadFlushMissingBucket(t *testing.T) {
	t.Parallel()
	l := startLocal(t, "flush-bucket")
	s := newSink(t, l.url, "gone-bucket", nil)
	pw := newWriter(t, s, nil)
	feed(t, pw, records(t, 0, 1, testBase)...)
	err := pw.Flush(context.Background(), true)
	var perm *sinks.Permanent
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), `"gone-bucket"`) || !strings.Contains(err.Error(), "--s3-bucket") {
		t.Fatalf("Flush into a missing bucket: %v", err)
	}
	wantCommittable(t, pw, 0)
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"bucket", func(c *Config) { c.Bucket = "" }, "--s3-bucket"},
		{"mode", func(c *Config) { c.Mode = "eventual" }, "--s3-mode"},
		{"format", func(c *Config) { c.Format = "csv" }, "--s3-format"},
		{"records", func(c *Config) { c.MaxRecords = -1 }, "BATCH_SIZE"},
		{"bytes", func(c *Config) { c.MaxBytes = 100 }, "--s3-max-bytes"},
		{"age", func(c *Config) { c.MaxAge = time.Millisecond }, "--s3-max-age"},
		{"secret", func(c *Config) { c.SecretKey = "" }, "AWS_SECRET_ACCESS_KEY"},
		{"prefix", func(c *Config) { c.Prefix = "logs/../other" }, "--s3-prefix"},
		{"decoder", func(c *Config) { c.Decoder = nil }, "decoder"},
	} {
		c := testConfig("http://127.0.0.1:1", "b-config", nil)
		tc.edit(&c)
		_, err := New(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}
