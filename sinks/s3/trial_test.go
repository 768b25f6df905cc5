package s3

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/internal/faultproxy"
	"github.com/logstream/logstream/sinks/internal/sinktest"
	"github.com/logstream/logstream/sinks/internal/versitygw"
	"github.com/logstream/logstream/topology"
)

var keyPattern = regexp.MustCompile(`^(?:(.+)/)?topic=([^/]+)/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/([^/+]+)\+(\d+)\+(\d{20})\.ndjson\.gz$`)

// readBack lists every object under prefix and returns the records in
// them. It also checks each object against its key and metadata: the key's
// start offset and hour are its first record's, the metadata's start, end
// and count are its lines'.
func readBack(t testing.TB, client *s3.Client, bucket, prefix string) []sinktest.Key {
	t.Helper()
	ctx := context.Background()
	var keys []sinktest.Key
	pager := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasPrefix(key, prefix+"/_logstream/") {
				continue // conditional-write probes whose delete failed
			}
			m := keyPattern.FindStringSubmatch(key)
			if m == nil {
				t.Fatalf("object key %q does not follow {prefix}/topic={t}/dt=YYYY-MM-DD/hour=HH/{t}+{p}+{start:020d}.ndjson.gz", key)
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s is not gzip: %v", key, err)
			}
			sc := bufio.NewScanner(zr)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			var first, last, n int64 = -1, -1, 0
			for sc.Scan() {
				var line struct {
					Topic     string `json:"kafka_topic"`
					Partition int32  `json:"kafka_partition"`
					Offset    int64  `json:"kafka_offset"`
					Timestamp int64  `json:"timestamp"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("%s line %d: %v", key, n+1, err)
				}
				if first < 0 {
					first = line.Offset
					ts := time.UnixMilli(line.Timestamp).UTC()
					if m[3] != ts.Format("2006-01-02") || m[4] != ts.Format("15") {
						t.Fatalf("%s: first record's time %s is not the key's dt/hour", key, ts)
					}
				}
				if line.Offset <= last {
					t.Fatalf("%s: offsets not increasing (%d after %d)", key, line.Offset, last)
				}
				last = line.Offset
				n++
				keys = append(keys, sinktest.Key{Topic: line.Topic, Partition: line.Partition, Offset: line.Offset})
			}
			if err := sc.Err(); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			start, _ := strconv.ParseInt(m[7], 10, 64)
			if n == 0 || start != first {
				t.Fatalf("%s: key's start offset %d, first line's %d (%d lines)", key, start, first, n)
			}
			head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			md := head.Metadata
			if os.Getenv("LOGSTREAM_TEST_LOG") != "" {
				t.Logf("object %s: lines %d..%d (%d), metadata %v", key, first, last, n, md)
			}
			if md[MetaStartOffset] != strconv.FormatInt(first, 10) || md[MetaEndOffset] != strconv.FormatInt(last, 10) || md[MetaRecords] != strconv.FormatInt(n, 10) {
				t.Fatalf("%s: metadata %v, lines %d..%d (%d)", key, md, first, last, n)
			}
		}
	}
	return keys
}

// TestExactlyOnceTrialsVersitygw runs the randomised exactly-once trials
// against a real S3-compatible server, versitygw, behind a proxy that
// injects 500s, 503 SlowDown, 409 ConditionalRequestConflict and responses
// lost after the server applied the write, with writers killed at random
// (between an upload and its commit among them) and, in some trials, a
// second writer copying the same partitions.
func TestExactlyOnceTrialsVersitygw(t *testing.T) {
	if testing.Short() {
		t.Skip("randomised trials against versitygw: not under -short")
	}
	srv := versitygw.Start(t)
	trials := 50
	if s := os.Getenv("LOGSTREAM_SINK_TRIALS"); s != "" {
		trials, _ = strconv.Atoi(s)
	}
	runTrials(t, srv.Endpoint, versitygw.AccessKey, versitygw.SecretKey, trials, 1)
}

func runTrials(t *testing.T, endpoint, access, secret string, trials int, seed0 uint64) {
	ctx := context.Background()
	var stats sinktest.Stats
	zombies := 0
	faults := map[string]int{}
	start := time.Now()
	done := 0
	for i := 0; i < trials; i++ {
		seed := seed0*1000 + uint64(i)
		ok := t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			tr, rng := sinktest.Plan(seed)
			proxy, err := faultproxy.New(endpoint, int64(seed))
			if err != nil {
				t.Fatal(err)
			}
			purl, err := proxy.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			bucket := fmt.Sprintf("trial-%d", seed)
			cfg := func(url string) Config {
				return Config{
					Bucket: bucket, Prefix: "logs", Endpoint: url, AccessKey: access, SecretKey: secret,
					MaxRecords: 20 + rng.IntN(300), MaxAge: time.Duration(100+rng.IntN(400)) * time.Millisecond,
					MaxBytes: 1 << 20, MaxAttempts: 3, MaxBackoff: 50 * time.Millisecond,
					Logger: testLogger(),
				}
			}
			direct, err := New(ctx, withDecoder(cfg(endpoint)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
				t.Fatal(err)
			}
			rate := 0.02 + rng.Float64()*0.08
			if os.Getenv("LOGSTREAM_TEST_NOFAULTS") != "" {
				rate = 0
			}
			proxy.SetFaults(faultproxy.Faults{Status5xx: rate / 4, Status503: rate / 4, Status409: rate / 4, DropAfter: rate / 4})
			b := sinktest.StartBroker(t, topology.TopicEnriched, tr.Partitions)
			st := sinktest.RunTrial(t, sinktest.Env{
				Broker: b, Topic: topology.TopicEnriched, Group: topology.GroupSinkS3, Stage: "sink-s3",
				NewSink: func() sinks.Sink {
					s, err := New(ctx, withDecoder(cfg(purl)))
					if err != nil {
						t.Fatal(err)
					}
					return s
				},
				ReadBack:    func() []sinktest.Key { return readBack(t, direct.Client(), bucket, "logs") },
				PoisonEvery: 200,
				Logger:      testLogger(),
			}, tr, rng)
			stats.Add(st)
			if tr.Zombie {
				zombies++
			}
			for k, n := range proxy.Counts() {
				faults[k] += n
			}
		})
		if !ok {
			break
		}
		done++
	}
	t.Logf("%d of %d trials passed in %s: %d records (%d not Avro), %d writers killed (%d between upload and commit), %d trials with a second writer; faults injected %v",
		done, trials, time.Since(start).Round(time.Second), stats.Records, stats.Poison, stats.Kills, stats.KillsAfterWrite, zombies, faults)
}

func withDecoder(c Config) Config {
	set := mustCodecs()
	c.Decoder = sinks.NewDecoder(set)
	return c
}

// testLogger logs to stderr when LOGSTREAM_TEST_LOG is set.
func testLogger() zerolog.Logger {
	if os.Getenv("LOGSTREAM_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
}
