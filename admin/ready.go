package admin

import "github.com/prometheus/client_golang/prometheus"

// ReadyGauge reports ready() at every scrape as logstream_ready, 1 or 0:
// what /readyz answers, for alert rules (a pod that stays unready is a
// stage that does not consume, whatever the probes make of it).
func ReadyGauge(ready func() bool) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "logstream_ready",
		Help: "1 when the pod is ready (/readyz answers 200: every stage it runs has recovered its state and consumes), else 0.",
	}, func() float64 {
		if ready != nil && ready() {
			return 1
		}
		return 0
	})
}
