package status

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BreakerMetric is the gauge the sink writers export for their circuit
// breaker (sinks.Metrics): 0 closed, 1 open, 2 half-open, labelled by sink.
const BreakerMetric = "logstream_sink_circuit_state"

// SinkBreaker is one sink's circuit breaker, read from its metrics port.
type SinkBreaker struct {
	URL   string `json:"url"`
	Sink  string `json:"sink,omitempty"`
	State string `json:"state,omitempty"` // closed, open, half-open
	Error string `json:"error,omitempty"`
}

func readBreakers(ctx context.Context, cfg Config) []SinkBreaker {
	out := []SinkBreaker{}
	for _, u := range cfg.SinkMetrics {
		out = append(out, readBreaker(ctx, cfg.HTTPClient, u)...)
	}
	return out
}

func readBreaker(ctx context.Context, hc *http.Client, url string) []SinkBreaker {
	fail := func(err error) []SinkBreaker { return []SinkBreaker{{URL: url, Error: err.Error()}} }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(err)
	}
	// The text format: a registry that could answer in protobuf or
	// OpenMetrics answers in this one.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fail(fmt.Errorf("%s: %q", resp.Status, body))
	}
	states, err := ParseBreakers(resp.Body)
	if err != nil {
		return fail(err)
	}
	out := make([]SinkBreaker, 0, len(states))
	for _, s := range states {
		s.URL = url
		out = append(out, s)
	}
	return out
}

// ParseBreakers reads the breaker gauge of every sink from a Prometheus
// text exposition.
func ParseBreakers(r io.Reader) ([]SinkBreaker, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("not Prometheus text: %w", err)
	}
	fam, ok := fams[BreakerMetric]
	if !ok || len(fam.GetMetric()) == 0 {
		return nil, fmt.Errorf("no %s metric: is this a sink's admin port ('logstream sink ... --admin-addr')?", BreakerMetric)
	}
	var out []SinkBreaker
	for _, m := range fam.GetMetric() {
		b := SinkBreaker{}
		for _, l := range m.GetLabel() {
			if l.GetName() == "sink" {
				b.Sink = l.GetValue()
			}
		}
		switch v := m.GetGauge().GetValue(); v {
		case 0:
			b.State = "closed"
		case 1:
			b.State = "open"
		case 2:
			b.State = "half-open"
		default:
			b.State = fmt.Sprintf("unknown (%v)", v)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sink < out[j].Sink })
	return out, nil
}
