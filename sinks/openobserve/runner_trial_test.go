package openobserve

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/internal/sinktest"
	"github.com/logstream/logstream/sinks/openobserve/o2test"
	"github.com/logstream/logstream/topology"
)

// TestExactlyOnceTrialsRunner runs the randomised exactly-once trials of
// the whole writer (consumer group, runner, circuit breaker, this sink)
// on the embedded broker against the OpenObserve test server, with every
// fault it reproduces: 503, 429, 500 before writing, responses lost after
// the write, partial writes answered 200, 500 or not at all, 200 with
// successful 0 and failed 0, 200 claiming a write that did not happen,
// slow answers past the client's timeout, partial and failed searches;
// writers are killed at random points (between a write and its commit
// among them), and in some trials a second member of the group takes
// partitions over mid-run.
func TestExactlyOnceTrialsRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("randomised trials on the embedded broker: not under -short")
	}
	trials := 50
	if s := os.Getenv("LOGSTREAM_SINK_TRIALS"); s != "" {
		trials, _ = strconv.Atoi(s)
	}
	start := time.Now()
	var stats sinktest.Stats
	zombies := 0
	faults := map[string]int{}
	done := 0
	for i := 0; i < trials; i++ {
		seed := uint64(2000 + i)
		ok := t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			tr, rng := sinktest.Plan(seed)
			// The trial's records are stamped around 09:40 UTC of the
			// trial day: the server's clock sits an hour later, inside
			// the 5 h it accepts.
			now := func() time.Time { return time.Date(2026, 11, 21, 10, 40, 0, 0, time.UTC) }
			rate := 0.15 + rng.Float64()*0.3
			srv := testServer(t, o2test.Options{Seed: seed, Now: now, SlowDelay: 300 * time.Millisecond, Faults: o2test.Faults{
				Unavailable: rate / 10, TooManyRequests: rate / 10, InternalError: rate / 10, LostResponse: rate / 10,
				PartialOK: rate / 10, PartialError: rate / 10, PartialLost: rate / 10, ZeroZero: rate / 10,
				FalseSuccess: rate / 10, Slow: rate / 10,
				SearchPartial: rate / 4, SearchUnavailable: rate / 4,
			}})
			b := sinktest.StartBroker(t, topology.TopicEnriched, tr.Partitions)
			stats.Add(sinktest.RunTrial(t, sinktest.Env{
				Broker: b, Topic: topology.TopicEnriched, Group: topology.GroupSinkOpenObserve, Stage: "sink-" + Name,
				// The second writer is a member of the same group: OpenObserve
				// cannot refuse a duplicate, so two writers in different groups
				// would store everything twice by design.
				ZombieGroup: topology.GroupSinkOpenObserve,
				NewSink: func() sinks.Sink {
					cfg := testConfig(t, srv)
					cfg.Now = now
					cfg.Logger = runnerTestLogger()
					cfg.BatchSize = 20 + rng.IntN(300)
					cfg.MaxAge = time.Duration(50+rng.IntN(300)) * time.Millisecond
					cfg.Timeout = 200 * time.Millisecond
					cfg.Verify = true // FalseSuccess is among the faults
					cfg.Bulk = rng.IntN(2) == 0
					return newSink(t, cfg)
				},
				ReadBack: func() []sinktest.Key {
					var keys []sinktest.Key
					for p := int32(0); p < int32(tr.Partitions); p++ {
						for off, n := range srv.Offsets(o2test.DefaultOrg, testStream, topology.TopicEnriched, p) {
							for j := 0; j < n; j++ {
								keys = append(keys, sinktest.Key{Topic: topology.TopicEnriched, Partition: p, Offset: off})
							}
						}
					}
					return keys
				},
				PoisonEvery: 200,
				Logger:      runnerTestLogger(),
			}, tr, rng))
			if tr.Zombie {
				zombies++
			}
			for k, n := range srv.Stats().Faults {
				faults[k.String()] += n
			}
		})
		if !ok {
			break
		}
		done++
	}
	t.Logf("%d of %d trials passed in %s: %d records (%d not Avro), %d writers killed (%d between write and commit), %d with a second member; faults injected %v",
		done, trials, time.Since(start).Round(time.Second), stats.Records, stats.Poison, stats.Kills, stats.KillsAfterWrite, zombies, faults)
}

func runnerTestLogger() zerolog.Logger {
	if os.Getenv("LOGSTREAM_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
}
