package paging_test

import (
	"context"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/paging"
)

// A page consumer that delivers the alerts topic to Alertmanager and
// PagerDuty, with its metrics on a registry.
func ExampleNewConsumer() {
	log := zerolog.New(os.Stderr).With().Timestamp().Logger()
	reg := prometheus.NewRegistry() // served on /metrics elsewhere
	m := paging.NewMetrics()
	if err := m.Register(reg); err != nil {
		panic(err)
	}

	am, err := paging.NewAlertmanager(paging.AlertmanagerConfig{
		URL:  "http://alertmanager:9093",
		HTTP: paging.HTTP{Retry: paging.Retry{OnRetry: m.RetryHook(paging.TargetAlertmanager, log)}},
	})
	if err != nil {
		panic(err)
	}
	pd, err := paging.NewPagerDuty(paging.PagerDutyConfig{
		RoutingKey: os.Getenv("LOGSTREAM_PAGERDUTY_ROUTING_KEY"),
		HTTP:       paging.HTTP{Retry: paging.Retry{OnRetry: m.RetryHook(paging.TargetPagerDuty, log)}},
	})
	if err != nil {
		panic(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		panic(err)
	}
	c, err := paging.NewConsumer(paging.ConsumerConfig{
		Brokers: []string{"kafka-0:9092"},
		Codecs:  set,
		Targets: []paging.Target{
			{Name: paging.TargetAlertmanager, Notifier: am},
			{Name: paging.TargetPagerDuty, Notifier: pd},
		},
		Logger:  log,
		Metrics: m,
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := c.Run(ctx); err != nil {
		log.Fatal().Err(err).Msg("page")
	}
}
