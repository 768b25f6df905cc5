// Command codecbench measures what schema resolution costs: decoding a
// LogEvent written with v1 by the v2 codec (resolution) against decoding a
// v2 record by the v2 codec (the plain path, the baseline), in the same run,
// alternating the two over several rounds on these noisy machines, and
// prints ns/op, B/op and allocs/op of each and their ratio.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

func main() {
	rounds := flag.Int("rounds", 5, "rounds; each measures both paths, and the median is printed")
	flag.Parse()
	if err := run(*rounds); err != nil {
		fmt.Fprintln(os.Stderr, "codecbench:", err)
		os.Exit(1)
	}
}

func ptr[T any](v T) *T { return &v }

// event is the typical parsed access-log line of codecs' own benchmarks.
func event() *schemas.LogEvent {
	return &schemas.LogEvent{
		EventID: "9f86d081884c7d659a2feaa0c55ad015", Timestamp: 1767225600123,
		Host: "ip-10-0-3-17.eu-west-1.compute.internal", Service: "checkout", Level: schemas.LevelInfo,
		Message: "POST /api/v1/pay 200", TraceID: ptr("4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: ptr("00f067aa0ba902b7"),
		HTTPStatus: ptr(int32(200)), LatencyMs: ptr(12.5), K8sNamespace: ptr("shop"), K8sPod: ptr("checkout-7d9f8b6c5d-x2x9q"),
		K8sContainer: ptr("app"),
		Labels:       map[string]string{"method": "POST", "path": "/api/v1/pay", "client": "10.0.7.12", "user_agent": "okhttp/4.12.0"},
		Source:       "/var/log/containers/checkout-7d9f8b6c5d-x2x9q_shop_app-0123.log", Format: "json", Cluster: "eu-west-1",
	}
}

type result struct{ ns, bytes, allocs float64 }

func measure(decode func([]byte) (*schemas.LogEvent, error), data []byte) (result, error) {
	var err error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, e := decode(data); e != nil {
				err = e
			}
		}
	})
	return result{float64(r.NsPerOp()), float64(r.AllocedBytesPerOp()), float64(r.AllocsPerOp())}, err
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func run(rounds int) error {
	v2, err := codecs.NewLogEvent()
	if err != nil {
		return err
	}
	v1, err := codecs.NewLogEvent(codecs.WithVersion(schemas.NameLogEvent, 1))
	if err != nil {
		return err
	}
	v2bytes, err := v2.Marshal(event())
	if err != nil {
		return err
	}
	v1bytes, err := v1.Marshal(event())
	if err != nil {
		return err
	}
	var plain, resolved [3][]float64
	for i := 0; i < rounds; i++ {
		p, err := measure(v2.Unmarshal, v2bytes)
		if err != nil {
			return err
		}
		r, err := measure(v2.Unmarshal, v1bytes)
		if err != nil {
			return err
		}
		for k, x := range []float64{p.ns, p.bytes, p.allocs} {
			plain[k] = append(plain[k], x)
		}
		for k, x := range []float64{r.ns, r.bytes, r.allocs} {
			resolved[k] = append(resolved[k], x)
		}
		fmt.Printf("round %d: plain %.0f ns/op, resolved %.0f ns/op, ratio %.2f\n", i+1, p.ns, r.ns, r.ns/p.ns)
	}
	fmt.Printf("\nLogEvent decode, median of %d rounds (v2 codec; %d B v2 record, %d B v1 record)\n", rounds, len(v2bytes), len(v1bytes))
	fmt.Printf("%-34s %10s %10s %10s\n", "", "ns/op", "B/op", "allocs/op")
	fmt.Printf("%-34s %10.0f %10.0f %10.0f\n", "plain (v2 bytes read as v2)", median(plain[0]), median(plain[1]), median(plain[2]))
	fmt.Printf("%-34s %10.0f %10.0f %10.0f\n", "resolved (v1 bytes read as v2)", median(resolved[0]), median(resolved[1]), median(resolved[2]))
	fmt.Printf("ratio resolved / plain: %.2f (time), %.2f (allocs)\n", median(resolved[0])/median(plain[0]), median(resolved[2])/median(plain[2]))
	return nil
}
