package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/demo/fleet"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// TestTenThousandLinesExactlyOnce ingests 10,000 mixed lines on the
// embedded broker (Avro RawLogs, plain text lines, corrupt Avro, CRI lines
// split into parts) and finds every one exactly once: as a LogEvent (its
// req-N token in the event) or as a dead letter (its raw offset).
func TestTenThousandLinesExactlyOnce(t *testing.T) {
	const n = 10000
	s := startStack(t, 4)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.addr), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	gen := fleet.New(fleet.Config{Seed: 7, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), GarbageRatio: 0.02})
	type origin struct {
		seq    uint64
		format string
		kind   string // avro, plain, corrupt
	}
	var (
		results = make([]*kgo.Record, n)
		origins = make([]origin, n)
		formats = map[string]int{}
	)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		l := gen.Next()
		formats[l.Format]++
		o := origin{seq: l.Seq, format: l.Format, kind: "avro"}
		var value []byte
		switch {
		case i%50 == 17:
			// Corrupt Avro: a real header, half a body.
			b, _ := s.set.RawLog.Marshal(&schemas.RawLog{Host: l.Host, Source: l.Source, Line: l.Text, ReceivedAt: 1})
			value, o.kind = b[:len(b)/2], "corrupt"
		case i%7 == 3 && l.Format != fleet.FormatCRI:
			value, o.kind = []byte(l.Text+"\n"), "plain"
		default:
			value, err = s.set.RawLog.Marshal(&schemas.RawLog{Host: l.Host, Source: l.Source, Line: l.Text, ReceivedAt: time.Now().UnixMilli()})
			if err != nil {
				t.Fatal(err)
			}
		}
		origins[i] = o
		i := i
		cl.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(l.Host), Value: value}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce %d: %v", i, err)
			}
			results[i] = r
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range fleet.Formats() {
		if formats[f] == 0 {
			t.Fatalf("the input has no %s lines", f)
		}
	}
	bySeq := map[uint64]int{}
	byOffset := map[string]int{}
	wantDLQ := 0
	for i, o := range origins {
		bySeq[o.seq] = i
		byOffset[fmt.Sprintf("%d/%d", results[i].Partition, results[i].Offset)] = i
		if o.kind == "corrupt" {
			wantDLQ++
		}
	}

	st := s.pipe.Parse().Stats()
	deadline := time.Now().Add(3 * time.Minute)
	for st.In.Load() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := st.In.Load(); got != n {
		t.Fatalf("parse read %d of %d records", got, n)
	}
	wantOut := int(st.Events.Load() + st.DeadLetters.Load())
	recs := consumeAll(t, s.addr, wantOut, 2*time.Minute, topology.TopicParsed, topology.TopicDLQ)

	found := make([]int, n)
	events := 0
	for _, r := range recs {
		switch r.Topic {
		case topology.TopicParsed:
			events++
			ev := decodeEvent(t, s.set, r)
			text := ev.Message + " " + fmt.Sprint(ev.Labels)
			toks := reqTokens(text)
			if len(toks) == 0 {
				t.Errorf("event without a req token: %+v", ev)
				continue
			}
			for _, seq := range toks {
				i, ok := bySeq[seq]
				if !ok {
					t.Errorf("event names req-%d, which was never sent", seq)
					continue
				}
				found[i]++
				if o := origins[i]; o.format != "none" && ev.Format != o.format {
					t.Errorf("req-%d: sent as %s, parsed as %s (%s)", seq, o.format, ev.Format, ev.Message)
				}
				if origins[i].format == "none" && ev.ParseError == nil {
					t.Errorf("req-%d: garbage parsed without parse_error: %+v", seq, ev)
				}
			}
		case topology.TopicDLQ:
			dl, err := s.set.DeadLetter.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("dead letter does not decode: %v", err)
			}
			i, ok := byOffset[fmt.Sprintf("%d/%d", dl.SourcePartition, dl.SourceOffset)]
			if !ok {
				t.Errorf("dead letter for an offset never sent: %+v", dl)
				continue
			}
			if origins[i].kind != "corrupt" {
				t.Errorf("req-%d (%s, %s) was dead-lettered: %s", origins[i].seq, origins[i].kind, origins[i].format, dl.Error)
			}
			if !strings.Contains(dl.Error, "decode") || dl.Stage != "parse" || dl.SourceTopic != topology.TopicRaw {
				t.Errorf("dead letter lacks its reason or origin: %+v", dl)
			}
			found[i]++
		}
	}
	missing, doubled := 0, 0
	for i, c := range found {
		switch {
		case c == 0:
			missing++
			if missing <= 5 {
				t.Errorf("line %d (req-%d, %s, %s) not found", i, origins[i].seq, origins[i].kind, origins[i].format)
			}
		case c > 1:
			doubled++
			if doubled <= 5 {
				t.Errorf("line %d (req-%d) found %d times", i, origins[i].seq, c)
			}
		}
	}
	if missing+doubled > 0 {
		t.Fatalf("%d lines missing, %d found more than once", missing, doubled)
	}
	if got := int(st.DeadLetters.Load()); got != wantDLQ {
		t.Fatalf("%d dead letters, want %d", got, wantDLQ)
	}
	t.Logf("%d lines: %d events (%d CRI parts joined), %d dead letters, formats %v", n, events, st.PartialHeld.Load(), wantDLQ, st.Formats())
}

// reqTokens returns the distinct N of every "req-N" in s (an access log's
// token shows in both its message and its path label).
func reqTokens(s string) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	for {
		i := strings.Index(s, "req-")
		if i < 0 {
			return out
		}
		s = s[i+4:]
		var n uint64
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			n = n*10 + uint64(s[j]-'0')
			j++
		}
		if j > 0 && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
		s = s[j:]
	}
}
