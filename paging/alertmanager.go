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

// DefaultFiringFor is how long Alertmanager keeps a FIRING alert active
// without hearing of it again (see AlertmanagerConfig.FiringFor).
const DefaultFiringFor = 7 * 24 * time.Hour

// AlertmanagerConfig configures delivery to Prometheus Alertmanager's
// API v2 (POST /api/v2/alerts).
type AlertmanagerConfig struct {
	// URL is Alertmanager's base URL, with its route prefix if it has one,
	// e.g. http://alertmanager:9093.
	URL string
	// GeneratorURL, when set, is the link each alert carries back to its
	// source (a dashboard).
	GeneratorURL string
	// FiringFor sets a FIRING alert's endsAt to now + FiringFor; 0 means
	// DefaultFiringFor. The alerter writes FIRING once per incident and
	// never repeats it, so an empty endsAt would let Alertmanager resolve
	// the alert on its own after its resolve_timeout (5 m by default) while
	// the incident goes on. The RESOLVED record ends it.
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
// FiringFor; RESOLVED sets endsAt to the record's at, which Alertmanager
// takes as "resolved since then": an alert whose endsAt has passed is
// resolved and no longer listed. An at ahead of this machine's clock is
// lowered to now, otherwise Alertmanager would keep the alert active until
// then.
type Alertmanager struct {
	cfg AlertmanagerConfig
	url string
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
	return &Alertmanager{cfg: cfg, url: strings.TrimRight(cfg.URL, "/") + "/api/v2/alerts"}, nil
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
	return postableAlert{
		Labels:       AlertmanagerLabels(a),
		Annotations:  ann,
		StartsAt:     rfc3339(start),
		EndsAt:       rfc3339(ends),
		GeneratorURL: n.cfg.GeneratorURL,
	}
}

// rfc3339 formats t in UTC with milliseconds, as the alerts' times carry.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
