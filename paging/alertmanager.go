package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logstream/logstream/schemas"
)

// Target names, as they appear in logs, errors and metric labels.
const (
	TargetAlertmanager = "alertmanager"
	TargetPagerDuty    = "pagerduty"
	TargetWebhook      = "webhook"
)

// DefaultResendInterval is how often a FIRING alert is sent to
// Alertmanager again while its incident is open (ConsumerConfig.ResendInterval),
// as Prometheus re-sends its firing alerts every minute.
const DefaultResendInterval = time.Minute

// ResendsPerFiringFor is how many re-send intervals a FIRING alert's
// endsAt lies ahead, as in Prometheus (4 × its resend delay): three
// re-sends in a row may fail before Alertmanager lets the alert expire.
const ResendsPerFiringFor = 4

// DefaultFiringFor is how long Alertmanager keeps a FIRING alert active
// without hearing of it again (see AlertmanagerConfig.FiringFor).
const DefaultFiringFor = ResendsPerFiringFor * DefaultResendInterval

// AlertmanagerConfig configures delivery to Prometheus Alertmanager's
// API v2 (POST /api/v2/alerts).
type AlertmanagerConfig struct {
	// URL is Alertmanager's base URL, with its route prefix if it has one,
	// e.g. http://alertmanager:9093.
	URL string
	// GeneratorURL, when set, is the link each alert carries back to its
	// source, a URLTemplate: e.g. the pipeline's admin query of the
	// alert's host, http://logstream:9464/query/hosts?host={host}.
	GeneratorURL string
	// RunbookURL, when set, is a URLTemplate each alert carries as its
	// runbook_url annotation, e.g. https://wiki.example/runbooks/{rule}.
	RunbookURL string
	// FiringFor sets a FIRING alert's endsAt to now + FiringFor; 0 means
	// DefaultFiringFor. The Consumer re-sends every open FIRING alert each
	// ResendInterval, which must be well within FiringFor (it checks):
	// Alertmanager then keeps the alert active while the incident is open
	// and the pipeline runs, and resolves it by itself within FiringFor of
	// the last send once they stop. The RESOLVED record ends it at once.
	FiringFor time.Duration
	HTTP      HTTP
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid setting.
func (c AlertmanagerConfig) Validate() error {
	if err := checkURL("Alertmanager", c.URL); err != nil {
		return err
	}
	if c.FiringFor < 0 {
		return fmt.Errorf("paging: Alertmanager firing duration %s is negative", c.FiringFor)
	}
	if _, err := ParseURLTemplate(c.GeneratorURL); err != nil {
		return fmt.Errorf("paging: Alertmanager generator URL: %w", err)
	}
	if _, err := ParseURLTemplate(c.RunbookURL); err != nil {
		return fmt.Errorf("paging: Alertmanager runbook URL: %w", err)
	}
	return c.HTTP.Retry.Validate()
}

// Alertmanager posts alerts to Prometheus Alertmanager.
//
// Each alert becomes one postable alert whose labels (alertname = the rule,
// host, scope, severity=page, dedup_key, service=logstream) depend only on
// fields the alerter keeps equal between an incident's FIRING and RESOLVED
// records, so Alertmanager files both under one alert (it identifies alerts
// by their label set) and a repeated delivery is the same alert again.
// startsAt is the incident's first_seen. FIRING sets endsAt to now +
// FiringFor (a few minutes: the Consumer re-sends it while the incident is
// open, see Resend); RESOLVED sets endsAt to the record's at, which
// Alertmanager takes as "resolved since then": an alert whose endsAt has
// passed is resolved and no longer listed. An at ahead of this machine's
// clock is lowered to now, otherwise Alertmanager would keep the alert
// active until then.
type Alertmanager struct {
	cfg       AlertmanagerConfig
	url       string
	generator URLTemplate
	runbook   URLTemplate
}

// NewAlertmanager validates cfg and returns the notifier.
func NewAlertmanager(cfg AlertmanagerConfig) (*Alertmanager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FiringFor == 0 {
		cfg.FiringFor = DefaultFiringFor
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Alertmanager{cfg: cfg, url: strings.TrimRight(cfg.URL, "/") + "/api/v2/alerts"}
	n.generator, _ = ParseURLTemplate(cfg.GeneratorURL) // checked by Validate
	n.runbook, _ = ParseURLTemplate(cfg.RunbookURL)
	return n, nil
}

// postableAlert is Alertmanager's API v2 postableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notify posts a to Alertmanager, retrying as documented on Notifier.
// Alertmanager answers 200 when it stored the alert and 400 when it
// refused it (a permanent error).
func (n *Alertmanager) Notify(ctx context.Context, a *schemas.Alert) error {
	body, err := json.Marshal([]postableAlert{n.postable(a)})
	if err != nil {
		return &DeliveryError{Target: TargetAlertmanager, Permanent: true, Err: err}
	}
	return n.cfg.HTTP.Retry.Do(ctx, func(ctx context.Context) error {
		return n.cfg.HTTP.post(ctx, TargetAlertmanager, n.url, body, nil)
	})
}

// maxResendBatch bounds the alerts of one re-send request (Prometheus
// sends at most 256 at once; alerts with their descriptions are larger).
const maxResendBatch = 64

// Resend posts FIRING alerts again, in batches, each with a fresh endsAt
// (now + FiringFor); it returns the first error after trying every batch.
// Alertmanager stores the valid alerts of a batch even when it refuses
// another one with 400; the error then matches ErrPermanent.
func (n *Alertmanager) Resend(ctx context.Context, firing []*schemas.Alert) error {
	var first error
	for start := 0; start < len(firing); start += maxResendBatch {
		batch := firing[start:min(start+maxResendBatch, len(firing))]
		posts := make([]postableAlert, len(batch))
		for i, a := range batch {
			posts[i] = n.postable(a)
		}
		body, err := json.Marshal(posts)
		if err == nil {
			err = n.cfg.HTTP.Retry.Do(ctx, func(ctx context.Context) error {
				return n.cfg.HTTP.post(ctx, TargetAlertmanager, n.url, body, nil)
			})
		} else {
			err = &DeliveryError{Target: TargetAlertmanager, Permanent: true, Err: err}
		}
		if err != nil && first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return first
}

// ValidFor is how long Alertmanager keeps a FIRING alert active after a
// send: FiringFor.
func (n *Alertmanager) ValidFor() time.Duration { return n.cfg.FiringFor }

// AlertmanagerLabels returns the label set that identifies a's incident in
// Alertmanager. Empty values are left out, as Alertmanager drops them.
func AlertmanagerLabels(a *schemas.Alert) map[string]string {
	name := a.Rule
	if name == "" {
		name = "logstream"
	}
	l := map[string]string{
		"alertname": name,
		"host":      a.Host,
		"scope":     a.Scope,
		"severity":  "page",
		"dedup_key": a.DedupKey,
		"service":   "logstream",
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

func (n *Alertmanager) postable(a *schemas.Alert) postableAlert {
	now := n.cfg.Now()
	starts := a.FirstSeen
	if starts <= 0 {
		starts = a.At
	}
	var ends time.Time
	if a.State == schemas.AlertResolved {
		ends = now
		if a.At > 0 && time.UnixMilli(a.At).Before(now) {
			ends = time.UnixMilli(a.At)
		}
	} else {
		ends = now.Add(n.cfg.FiringFor)
	}
	start := ends
	if starts > 0 && time.UnixMilli(starts).Before(ends) {
		start = time.UnixMilli(starts)
	}
	firstSeen := start
	if a.FirstSeen > 0 {
		firstSeen = time.UnixMilli(a.FirstSeen)
	}
	ann := map[string]string{
		"summary":     alertSummary(a),
		"description": describe(a),
		"first_seen":  rfc3339(firstSeen),
		"rate":        formatFloat(a.Rate),
		"fleet_rate":  formatFloat(a.FleetRate),
		"state":       a.State,
		"id":          a.ID,
	}
	if a.LastSeen > 0 {
		ann["last_seen"] = rfc3339(time.UnixMilli(a.LastSeen))
	}
	if a.BurnRate != nil {
		ann["burn_rate"] = formatFloat(*a.BurnRate)
	}
	if len(a.Rules) > 0 {
		ann["rules"] = strings.Join(a.Rules, ",")
	}
	if !n.runbook.IsZero() {
		ann["runbook_url"] = n.runbook.Expand(a)
	}
	return postableAlert{
		Labels:       AlertmanagerLabels(a),
		Annotations:  ann,
		StartsAt:     rfc3339(start),
		EndsAt:       rfc3339(ends),
		GeneratorURL: n.generator.Expand(a),
	}
}

// rfc3339 formats t in UTC with milliseconds, as the alerts' times carry.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
