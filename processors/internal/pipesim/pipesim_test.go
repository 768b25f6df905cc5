package pipesim

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var lines []Line
	for i := 0; i < 10*60*50; i++ { // 10 minutes, 50 lines/s
		ts := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		host := fmt.Sprintf("web-%d", 1+rng.IntN(5))
		bad := host == "web-3" && ts.Sub(t0) > 3*time.Minute && ts.Sub(t0) < 6*time.Minute && rng.Float64() < 0.2
		lines = append(lines, Line{Host: host, Time: ts, Error: bad || rng.Float64() < 0.002})
	}
	for _, m := range []Mode{Live, Backlog} {
		start := time.Now()
		res, err := Run(Config{Seed: 3}, lines, m)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, events %d late %d finals %d ticks %d", m, time.Since(start), res.Stats.Events.Load(), res.Stats.Late.Load(), len(res.Finals), res.Ticks)
		for p, w := range res.Watermarks {
			t.Logf("  partition %d: %s", p, w)
		}
		for _, a := range res.Alerts {
			t.Logf("  %s", AlertKey(a))
		}
	}
}
