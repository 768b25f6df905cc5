package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/schemas"
)

// The demo runs end to end on the embedded broker, exits 0 by itself, its
// JSON summary accounts for every record, and it pages for web-3's
// incident, once when it starts and once when it ends, and for nothing else.
//
// Everything asserted holds however busy the machine is: a slow machine
// makes the demo drain longer, not lose or double records. What depends
// on the CPU is left out: how many events find their span within the join
// window (the spans stage falling behind the events turns joins into
// timeouts), so the join is checked for deciding every event once, not
// for its hit rate.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	sum := filepath.Join(t.TempDir(), "summary.json")
	s3dir := t.TempDir()
	// The stages log from their own goroutines.
	var out, errb syncBuffer
	code := runMain([]string{"demo", "--duration", "10s", "--rate", "2000", "--partitions", "3",
		"--embedded-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--summary-json", sum, "--log-format", "json",
		"--s3-dir", s3dir,
		// A busy machine drains longer; a drain that does not finish
		// fails here with the groups behind, inside make test's timeout.
		"--drain-limit", "4m"},
		&out, &errb, env(nil))
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "embedded Kafka broker listening on 127.0.0.1:") {
		t.Errorf("demo did not print the embedded broker's address:\n%s", errb.String())
	}
	if !strings.Contains(out.String(), "logstream demo summary") || !strings.Contains(out.String(), "stage parse") {
		t.Errorf("no summary on stdout:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "embedded S3 store: files under "+s3dir+"\n") {
		t.Errorf("demo did not print the S3 store's directory %s:\n%s", s3dir, out.String())
	}
	b, err := os.ReadFile(sum)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Generated struct {
			Records, Corrupt, Duplicates, Spans int64
		}
		Dedupe struct {
			In         int64
			Unique     int64
			Duplicates int64 `json:"duplicates_dropped"`
		}
		Join struct {
			Events, Spans, Joined, Timeouts, Enriched int64
			NoTrace                                   int64   `json:"no_trace"`
			HitRate                                   float64 `json:"hit_rate"`
		}
		Stages []struct {
			Name        string
			RecordsIn   int64 `json:"records_in"`
			RecordsOut  int64 `json:"records_out"`
			DeadLetters int64 `json:"dead_letters"`
			Held        int64 `json:"held_partials"`
		}
		Topics      map[string]int64
		Watermarks  map[string]int64 `json:"watermark_records"`
		DeadLetters int64            `json:"dead_letters"`
		Accounted   bool
		Drained     bool
		Alerts      []struct {
			Host, State, Rule, Scope string
			Delay                    float64 `json:"delay_seconds"`
			Signature                string
			Trace                    string `json:"sample_trace_id"`
		}
		Duration  float64 `json:"duration_seconds"`
		S3Objects []struct {
			Key         string
			Topic       string
			Partition   int32
			Records     int64
			FirstOffset int64 `json:"first_offset"`
			LastOffset  int64 `json:"last_offset"`
		} `json:"s3_objects"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("demo ran %.1fs: %d records generated; join: %d joined, %d timed out (hit rate %.2f, not asserted: it depends on the CPU)",
		s.Duration, s.Generated.Records, s.Join.Joined, s.Join.Timeouts, s.Join.HitRate)
	// The fleet writes rate × duration lines, however long that takes: the
	// replay must reach web-3's recovery.
	if !s.Accounted || !s.Drained || len(s.Stages) != 4 || s.Stages[0].Name != "parse" || s.Generated.Records != 2000*10 {
		t.Fatalf("summary: %s", b)
	}
	st := s.Stages[0]
	if st.RecordsIn != s.Generated.Records || s.Topics["logs.raw"] != s.Generated.Records ||
		s.Topics["logs.dlq"] != st.DeadLetters || s.DeadLetters != s.Generated.Corrupt ||
		s.Topics["logs.parsed"]-s.Watermarks["logs.parsed"] != st.RecordsOut-st.DeadLetters {
		t.Fatalf("summary does not add up: %s", b)
	}
	// Duplicates removed: every line the fleet re-sent, and nothing else.
	if s.Generated.Duplicates == 0 || s.Dedupe.Duplicates != s.Generated.Duplicates ||
		s.Dedupe.Unique != s.Dedupe.In-s.Dedupe.Duplicates || s.Topics["logs.unique"]-s.Watermarks["logs.unique"] != s.Dedupe.Unique {
		t.Fatalf("dedupe does not add up: %s", b)
	}
	// Every event left the join once, and every span the fleet sent
	// reached the join's input.
	if s.Join.Spans == 0 || s.Generated.Spans == 0 || s.Topics["spans"]-s.Watermarks["spans"] != s.Generated.Spans ||
		s.Join.Joined+s.Join.Timeouts+s.Join.NoTrace != s.Dedupe.Unique || s.Join.Enriched != s.Dedupe.Unique {
		t.Fatalf("join does not add up: %s", b)
	}
	if !strings.Contains(out.String(), "duplicates dropped") || !strings.Contains(out.String(), "join hit rate") {
		t.Errorf("summary text lacks dedupe and join:\n%s", out.String())
	}
	if s.Duration <= 0 {
		t.Fatalf("summary lacks duration: %s", b)
	}
	// The S3 writer copied logs.enriched and the two alerts into the
	// embedded store, each record in one object; the objects are files
	// under --s3-dir.
	var inS3 int64
	for _, o := range s.S3Objects {
		inS3 += o.Records
		if _, err := os.Stat(filepath.Join(s3dir, "logstream-demo", o.Key)); err != nil {
			t.Errorf("object %s is not a file under --s3-dir: %v", o.Key, err)
		}
	}
	if want := s.Topics["logs.enriched"] + 2; inS3 != want || len(s.S3Objects) == 0 {
		t.Errorf("S3 objects hold %d records in %d objects, want %d (logs.enriched and 2 alerts)", inS3, len(s.S3Objects), want)
	}
	// The events themselves, as the S3 writer stored them: each once, each
	// with the join's decision. A line is an event here, a dead letter, a
	// CRI part held for its line, or a repeat dedupe dropped; nothing else.
	var keys []string
	for _, o := range s.S3Objects {
		if o.Topic == "logs.enriched" {
			keys = append(keys, o.Key)
		}
	}
	events := readEnriched(t, filepath.Join(s3dir, "logstream-demo"), keys)
	ids := map[string]bool{}
	status := map[string]int64{}
	for _, ev := range events {
		if ids[ev.EventID] {
			t.Errorf("event %s is twice in logs.enriched", ev.EventID)
		}
		ids[ev.EventID] = true
		status[ev.JoinStatus]++
		traced := false
		if ev.TraceID != nil {
			_, traced = tracejoin.NormalizeTraceID(*ev.TraceID)
		}
		enriched := ev.SpanService != "" || ev.SpanDurationUs != nil
		switch {
		case ev.JoinStatus == schemas.JoinJoined && traced && ev.SpanService != "" && ev.SpanDurationUs != nil,
			ev.JoinStatus == schemas.JoinTimeout && traced && !enriched,
			ev.JoinStatus == schemas.JoinNoTrace && !traced && !enriched:
		default:
			t.Errorf("event %s (trace id %v): join_status %q with span service %q", ev.EventID, ev.TraceID, ev.JoinStatus, ev.SpanService)
		}
	}
	if int64(len(events)) != s.Dedupe.Unique || int64(len(ids)) != s.Dedupe.Unique {
		t.Errorf("logs.enriched in S3: %d events, %d distinct; dedupe passed %d", len(events), len(ids), s.Dedupe.Unique)
	}
	if status[schemas.JoinJoined] != s.Join.Joined || status[schemas.JoinTimeout] != s.Join.Timeouts ||
		status[schemas.JoinNoTrace] != s.Join.NoTrace || status[schemas.JoinJoined]+status[schemas.JoinTimeout] == 0 {
		t.Errorf("join statuses in logs.enriched %v; the join counted %d joined, %d timeouts, %d without a trace",
			status, s.Join.Joined, s.Join.Timeouts, s.Join.NoTrace)
	}
	if lines := int64(len(ids)) + s.Topics["logs.dlq"] + st.Held + s.Dedupe.Duplicates; lines != s.Generated.Records {
		t.Errorf("%d records generated; %d distinct events + %d dead letters + %d CRI parts held + %d repeats dropped = %d",
			s.Generated.Records, len(ids), s.Topics["logs.dlq"], st.Held, s.Dedupe.Duplicates, lines)
	}
	if !strings.Contains(out.String(), "is in exactly one object") {
		t.Errorf("demo did not confirm the S3 chains:\n%s", out.String())
	}
	// web-3 times out from 5 to 10 minutes into the replay: one FIRING
	// within a minute and a half of its first failed request (event time),
	// naming the timeout, then one RESOLVED; no other host.
	if len(s.Alerts) != 2 {
		t.Fatalf("want 2 alerts (web-3 FIRING, RESOLVED), got %d: %s", len(s.Alerts), b)
	}
	fire, res := s.Alerts[0], s.Alerts[1]
	if fire.Host != "web-3" || fire.State != "FIRING" || fire.Scope != "host" || fire.Rule == "" ||
		fire.Delay <= 0 || fire.Delay > 90 || fire.Signature == "" {
		t.Errorf("FIRING alert: %+v", fire)
	}
	if res.Host != "web-3" || res.State != "RESOLVED" || res.Delay <= fire.Delay {
		t.Errorf("RESOLVED alert: %+v", res)
	}
	// A 10 s run gives windows of a few dozen events: web-3's top
	// signature may be a 5xx access line rather than the timeout, so only
	// the alerts themselves are checked here (signatures are checked by
	// the errorrate tests and shown by the full demo).
	if !strings.Contains(out.String(), ">>> ALERT FIRING  web-3") || !strings.Contains(out.String(), ">>> ALERT RESOLVED  web-3") {
		t.Errorf("demo did not print the alerts as they came:\n%s", out.String())
	}
}

// enrichedEvent is what the demo test reads of a LogEvent in S3.
type enrichedEvent struct {
	EventID        string  `json:"event_id"`
	TraceID        *string `json:"trace_id"`
	JoinStatus     string  `json:"join_status"`
	SpanService    string  `json:"span_service"`
	SpanDurationUs *int64  `json:"span_duration_us"`
}

// readEnriched decodes the LogEvents of the S3 writer's gzip NDJSON
// objects under dir.
func readEnriched(t *testing.T, dir string, keys []string) []enrichedEvent {
	t.Helper()
	var out []enrichedEvent
	for _, k := range keys {
		f, err := os.Open(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		dec := json.NewDecoder(zr)
		for {
			var ev enrichedEvent
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			out = append(out, ev)
		}
		f.Close()
	}
	return out
}

// ingest sends a file's lines to a broker given with --brokers.
func TestIngestToBroker(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	file := filepath.Join(t.TempDir(), "app.log")
	lines := "<34>Oct 11 22:14:15 db-7 su[1]: one\n{\"host\":\"web-2\",\"msg\":\"two\"}\nthree\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runMain([]string{"ingest", "--brokers", e.Addr(), file}, &out, &errb, env(nil))
	if code != 0 || !strings.Contains(errb.String(), "ingested 3 records") {
		t.Fatalf("ingest exit %d: %s", code, errb.String())
	}
	// Nothing listening: a clear error, not a hang.
	errb.Reset()
	code = runMain([]string{"ingest", "--brokers", "127.0.0.1:1", file}, &out, &errb, env(nil))
	if code != 1 || !strings.Contains(errb.String(), "cannot connect to Kafka at 127.0.0.1:1") {
		t.Fatalf("ingest to nowhere: exit %d: %s", code, errb.String())
	}
}
