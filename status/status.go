package status

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/topology"
)

// Defaults of Config.
const (
	DefaultInterval         = 5 * time.Second
	DefaultStep             = time.Second
	DefaultDeadLetterWindow = time.Hour
	DefaultMaxRecords       = 10000
	DefaultTimeout          = 15 * time.Second
)

// GroupSpec is a consumer group Collect reports on.
type GroupSpec struct {
	Name  string
	Kind  topology.GroupKind // "" for a group that is not the pipeline's
	Stage string
	// Required: the group must exist and have members. A group that is not
	// required is reported when the broker knows it (members or committed
	// offsets), and then must have members too.
	Required bool
}

// Groups returns every consumer group of t: the stages' required, page's
// and the sinks' when deployed (a pipeline may run without them).
func Groups(t *topology.Topology) []GroupSpec {
	var out []GroupSpec
	for _, g := range t.Groups() {
		out = append(out, GroupSpec{Name: g.Name, Kind: g.Kind, Stage: g.Stage, Required: g.Kind == topology.KindStage})
	}
	return out
}

// Config says what Collect reads.
type Config struct {
	Brokers []string
	// ClientOpts are added to the franz-go clients (TLS, SASL).
	ClientOpts []kgo.Opt
	Codecs     *codecs.Set
	Groups     []GroupSpec
	// Transactional names the topics written in Kafka transactions: on
	// them a caught-up group stops one short of the end (the commit
	// marker after the last record is no record), which is not lag.
	Transactional []string
	// Interval is the time between the first and the last lag sample,
	// Step the time between two samples. Interval 0 takes one sample:
	// no growth, no commit times.
	Interval, Step time.Duration
	// DeadLetterWindow is how far back logs.dlq is read (by record
	// timestamp); MaxRecords caps the records read from logs.dlq and from
	// the alerts topic, the newest kept.
	DeadLetterWindow time.Duration
	MaxRecords       int
	// SinkMetrics are the URLs of sinks' /metrics, read for their breakers.
	SinkMetrics []string
	HTTPClient  *http.Client
	// Timeout bounds each round of requests to the brokers, each read of
	// a topic and each metrics request.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Step <= 0 {
		c.Step = DefaultStep
	}
	if c.DeadLetterWindow <= 0 {
		c.DeadLetterWindow = DefaultDeadLetterWindow
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports what is missing.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("status: no brokers")
	case c.Codecs == nil:
		return errors.New("status: no codecs")
	case len(c.Groups) == 0:
		return errors.New("status: no groups")
	case c.Interval < 0:
		return errors.New("status: negative interval")
	}
	return nil
}

// ErrUnreachable wraps the failure of the first request to the brokers:
// nothing could be read, so the pipeline's health is unknown.
var ErrUnreachable = errors.New("the brokers did not answer")

// Report is the pipeline's health.
type Report struct {
	Time            time.Time `json:"time"`
	IntervalSeconds float64   `json:"interval_seconds"`
	Samples         int       `json:"samples"`
	// Healthy: every group that must run has members and none's lag is
	// growing. Problems says what is not so, one line each.
	Healthy     bool          `json:"healthy"`
	Problems    []string      `json:"problems"`
	Groups      []Group       `json:"groups"`
	DeadLetters DeadLetters   `json:"dead_letters"`
	Alerts      Alerts        `json:"alerts"`
	Sinks       []SinkBreaker `json:"sinks"`
}

// Collect samples the groups over cfg.Interval, reads logs.dlq, the alerts
// and the sinks' breakers meanwhile, and returns the report. It returns an
// error wrapping ErrUnreachable when the brokers do not answer at all;
// other failures are in the report, beside what could be read.
func Collect(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(cfg.ClientOpts, kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return nil, fmt.Errorf("status: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	names := make([]string, len(cfg.Groups))
	for i, g := range cfg.Groups {
		names[i] = g.Name
	}
	first, err := sample(ctx, adm, names, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	samples := []lagSample{first}

	// The topics and the metrics are read while the lag is sampled: the
	// interval is waited anyway.
	rep := &Report{}
	var wg sync.WaitGroup
	wg.Go(func() { rep.DeadLetters = readDeadLetters(ctx, adm, cfg) })
	wg.Go(func() { rep.Alerts = readAlerts(ctx, adm, cfg) })
	wg.Go(func() { rep.Sinks = readBreakers(ctx, cfg) })

	end := first.at.Add(cfg.Interval)
	for cfg.Interval > 0 {
		wait := min(cfg.Step, end.Sub(cfg.Now()))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		s, err := sample(ctx, adm, names, cfg)
		if err != nil {
			// A later sample that fails leaves the ones taken: growth and
			// commit times are judged on fewer samples.
			rep.Problems = append(rep.Problems, fmt.Sprintf("a lag sample failed: %v", err))
		} else {
			samples = append(samples, s)
		}
		if !cfg.Now().Before(end) {
			break
		}
	}
	wg.Wait()

	last := samples[len(samples)-1]
	rep.Time = last.at.UTC()
	rep.Samples = len(samples)
	rep.IntervalSeconds = last.at.Sub(first.at).Seconds()
	txn := map[string]bool{}
	for _, t := range cfg.Transactional {
		txn[t] = true
	}
	for _, spec := range cfg.Groups {
		g := judgeGroup(spec, samples, txn)
		rep.Groups = append(rep.Groups, g)
		rep.Problems = append(rep.Problems, g.problems()...)
	}
	if ctx.Err() != nil {
		rep.Problems = append(rep.Problems, "interrupted before the interval ended: "+ctx.Err().Error())
	}
	rep.Healthy = len(rep.Problems) == 0
	if rep.Problems == nil {
		rep.Problems = []string{}
	}
	return rep, nil
}

// lagSample is one round of describing the groups and their offsets.
type lagSample struct {
	at   time.Time
	lags kadm.DescribedGroupLags
}

func sample(ctx context.Context, adm *kadm.Client, groups []string, cfg Config) (lagSample, error) {
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	lags, err := adm.Lag(rctx, groups...)
	if err != nil {
		return lagSample{}, err
	}
	return lagSample{at: cfg.Now(), lags: lags}, nil
}
