package admin

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestReadyGauge(t *testing.T) {
	var ready atomic.Bool
	reg := prometheus.NewRegistry()
	reg.MustRegister(ReadyGauge(ready.Load))
	for _, want := range []bool{false, true, false} {
		ready.Store(want)
		v := "0"
		if want {
			v = "1"
		}
		exp := "# HELP logstream_ready 1 when the pod is ready (/readyz answers 200: every stage it runs has recovered its state and consumes), else 0.\n# TYPE logstream_ready gauge\nlogstream_ready " + v + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "logstream_ready"); err != nil {
			t.Errorf("ready %v: %v", want, err)
		}
	}
}
