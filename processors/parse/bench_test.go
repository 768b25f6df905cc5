package parse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/parse/mask"
	"github.com/logstream/logstream/schemas"
)

// BenchmarkProcess is the stage's callback per line, through goka's
// tester (in-memory table and outputs), for line shapes the multi-line
// join and the masker treat differently. Compare the sub-benchmarks with
// each other: the tester's own cost is in every one.
//
//	json        a JSON line: never held, no state looked up beyond the host's
//	java-info   a Java INFO line: not held, its host's state looked up
//	java-trace  per line of an ERROR line and its 6-line stack trace: held,
//	            6 table writes, one event
//	json-card   a JSON line with a card number to mask
//	json-masks  a JSON line with nothing to mask, two configured patterns
func BenchmarkProcess(b *testing.B) {
	trace := []string{
		"2026-05-01 12:00:00,123 ERROR [http-nio-8080-exec-3] c.s.p.ChargeService - charge failed for order %d",
		"java.sql.SQLTimeoutException: Connection is not available, request timed out after 3000ms.",
		"\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
		"\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
		"\tat com.shop.payments.ChargeService.charge(ChargeService.java:88)",
		"Caused by: java.net.SocketTimeoutException: Read timed out",
		"\t... 42 more",
	}
	for _, c := range []struct {
		name     string
		lines    []string
		patterns []mask.Pattern
	}{
		{"json", []string{`{"ts":"2026-05-01T12:00:00.123Z","level":"info","msg":"charged order %d","service":"payments","latency_ms":12.5}`}, nil},
		{"java-info", []string{"2026-05-01 12:00:00,123 INFO [http-nio-8080-exec-3] c.s.p.ChargeService - charged order %d"}, nil},
		{"java-trace", trace, nil},
		{"json-card", []string{`{"ts":"2026-05-01T12:00:00.123Z","level":"warn","msg":"card 4111111111111111 declined, order %d","service":"payments"}`}, nil},
		{"json-masks", []string{`{"ts":"2026-05-01T12:00:00.123Z","level":"info","msg":"charged order %d","service":"payments","latency_ms":12.5}`},
			[]mask.Pattern{{Name: "email", Regexp: `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`}, {Name: "bearer", Regexp: `Bearer [A-Za-z0-9._~+/=-]+`}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			set, err := codecs.NewSet()
			if err != nil {
				b.Fatal(err)
			}
			m, err := mask.New(c.patterns)
			if err != nil {
				b.Fatal(err)
			}
			p, err := parse.New(parse.Config{Events: events, DeadLetters: dlq, RawLogs: set.RawLog, Encode: set.LogEvent,
				PartitionOf: func([]byte) int32 { return 0 }, Mask: m, State: set.ParseState,
				Now: func() time.Time { return time.UnixMilli(1_700_000_000_000) }})
			if err != nil {
				b.Fatal(err)
			}
			tt := tester.New(b)
			g := goka.DefineGroup(group, goka.Input(in, new(codec.Bytes), p.Process), goka.Output(events, new(codec.Bytes)),
				goka.Output(dlq, set.DeadLetter), goka.Persist(set.ParseState))
			proc, err := goka.NewProcessor(nil, g, goka.WithTester(tt), goka.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go proc.Run(ctx)
			q := tt.NewQueueTracker(string(events))
			values := make([][]byte, 0, 64*len(c.lines))
			for i := 0; i < 64; i++ {
				for _, l := range c.lines {
					values = append(values, []byte(fmt.Sprintf(l, i)))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tt.Consume(string(in), "pay-3", values[i%len(values)])
				if i%1024 == 0 {
					for {
						if _, _, ok := q.Next(); !ok {
							break
						}
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(p.Stats().Events.Load())/float64(b.N), "events/line")
		})
	}
}

// BenchmarkHeldTraceState is what a trace line costs beyond a line that
// is not held: its host's state read (decoded) and written (encoded) with
// the trace so far, here a logback line and 6 continuation lines.
func BenchmarkHeldTraceState(b *testing.B) {
	set, err := codecs.NewSet()
	if err != nil {
		b.Fatal(err)
	}
	st := &schemas.ParseState{Events: map[string]schemas.PendingEvent{"/var/log/pay.log": {
		Line:  "2026-05-01 12:00:00,123 ERROR [http-nio-8080-exec-3] c.s.p.ChargeService - charge failed for order 991",
		Stack: "java.sql.SQLTimeoutException: Connection is not available, request timed out after 3000ms.\n\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)\n\tat com.shop.payments.ChargeService.charge(ChargeService.java:88)\nCaused by: java.net.SocketTimeoutException: Read timed out\n\t... 42 more",
		Lines: 6, LastOffset: 1234, Updated: 1_700_000_000_000, Mark: -1}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v, err := set.ParseState.Marshal(st)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := set.ParseState.Unmarshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
