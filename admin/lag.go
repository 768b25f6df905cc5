package admin

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

var descLag = prometheus.NewDesc("logstream_consumer_lag_records",
	"Records in a partition not yet committed by a stage's consumer group (on a topic written in Kafka transactions, the commit marker after the last record is not counted).",
	[]string{"group", "topic", "partition"}, nil)

// LagCollector reports consumer lag per group, topic and partition. Lag is
// asked of the brokers at scrape time, bounded by a timeout, so a slow
// broker delays one scrape rather than piling up requests.
type LagCollector struct {
	adm     *kadm.Client
	groups  []string
	timeout time.Duration
	txn     map[string]bool
}

// NewLagCollector reports the lag of groups through adm.
func NewLagCollector(adm *kadm.Client, groups ...string) *LagCollector {
	return &LagCollector{adm: adm, groups: groups, timeout: 5 * time.Second, txn: map[string]bool{}}
}

// Transactional names topics written in Kafka transactions. A
// transaction ends with a commit marker in each partition it wrote, which
// takes an offset but is no record: a goka (sarama) group that read
// everything commits the offset after the last record, one short of the
// end. The lag on these topics does not count that marker.
func (c *LagCollector) Transactional(topics ...string) *LagCollector {
	for _, t := range topics {
		c.txn[t] = true
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descLag }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lags, err := c.Lag(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descLag, err)
		return
	}
	for _, l := range lags {
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(l.Lag), l.Group, l.Topic, strconv.Itoa(int(l.Partition)))
	}
}

// PartitionLag is one partition's lag for one group.
type PartitionLag struct {
	Group     string
	Topic     string
	Partition int32
	Lag       int64
}

// Lag returns the current lag of every partition the groups consume.
func (c *LagCollector) Lag(ctx context.Context) ([]PartitionLag, error) {
	described, err := c.adm.Lag(ctx, c.groups...)
	if err != nil {
		return nil, err
	}
	var out []PartitionLag
	for _, g := range described.Sorted() {
		if g.Error() != nil {
			continue
		}
		for _, l := range g.Lag.Sorted() {
			if l.Err != nil {
				continue
			}
			lag := l.Lag
			if c.txn[l.Topic] && lag > 0 {
				lag--
			}
			out = append(out, PartitionLag{Group: g.Group, Topic: l.Topic, Partition: l.Partition, Lag: lag})
		}
	}
	return out, nil
}
