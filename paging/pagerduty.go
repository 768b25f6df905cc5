package paging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/logstream/logstream/schemas"
)

// DefaultPagerDutyURL is PagerDuty's Events API host.
const DefaultPagerDutyURL = "https://events.pagerduty.com"

// PagerDuty's limits on an event (Events API v2).
const (
	pdMaxSummary  = 1024 // runes
	pdMaxDedupKey = 255  // characters
)

// PagerDutyConfig configures delivery to PagerDuty's Events API v2
// (POST {URL}/v2/enqueue).
type PagerDutyConfig struct {
	// URL is the Events API's base URL; "" means DefaultPagerDutyURL.
	URL string
	// RoutingKey is the integration key of an Events API v2 integration
	// (a secret).
	RoutingKey string
	HTTP       HTTP
}

// Validate reports the first invalid setting.
func (c PagerDutyConfig) Validate() error {
	if c.URL != "" {
		if err := checkURL("PagerDuty", c.URL); err != nil {
			return err
		}
	}
	if strings.TrimSpace(c.RoutingKey) == "" {
		return errors.New("paging: PagerDuty needs a routing key (the integration key of an Events API v2 integration)")
	}
	return c.HTTP.Retry.Validate()
}

// PagerDuty sends alerts as PagerDuty events: FIRING triggers, RESOLVED
// resolves, both with dedup_key = the alert's dedup key, so PagerDuty
// folds a repeated trigger into the open incident and the resolve closes
// it. Severity is critical, or error for a silent host (a host that stopped
// sending logs may be a logging problem rather than failing requests).
// PagerDuty answers 202 when it accepted the event, 400 when it refused it
// (permanent) and 429 when throttled (retried).
type PagerDuty struct {
	cfg PagerDutyConfig
	url string
}

// NewPagerDuty validates cfg and returns the notifier.
func NewPagerDuty(cfg PagerDutyConfig) (*PagerDuty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := cfg.URL
	if base == "" {
		base = DefaultPagerDutyURL
	}
	return &PagerDuty{cfg: cfg, url: strings.TrimRight(base, "/") + "/v2/enqueue"}, nil
}

type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key"`
	Payload     pdPayload `json:"payload"`
	Client      string    `json:"client,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Notify sends a's event to PagerDuty, retrying as documented on Notifier.
func (n *PagerDuty) Notify(ctx context.Context, a *schemas.Alert) error {
	body, err := json.Marshal(n.event(a))
	if err != nil {
		return &DeliveryError{Target: TargetPagerDuty, Permanent: true, Err: err}
	}
	return n.cfg.HTTP.Retry.Do(ctx, func(ctx context.Context) error {
		return n.cfg.HTTP.post(ctx, TargetPagerDuty, n.url, body, nil)
	})
}

func (n *PagerDuty) event(a *schemas.Alert) pdEvent {
	action := "trigger"
	if a.State == schemas.AlertResolved {
		action = "resolve"
	}
	severity := "critical"
	if a.Scope == schemas.ScopeSilent {
		severity = "error"
	}
	var ts string
	if a.At > 0 {
		ts = rfc3339(time.UnixMilli(a.At))
	}
	details := map[string]any{
		"id":          a.ID,
		"state":       a.State,
		"scope":       a.Scope,
		"host":        a.Host,
		"rule":        a.Rule,
		"rules":       a.Rules,
		"rate":        a.Rate,
		"fleet_rate":  a.FleetRate,
		"events":      a.Events,
		"errors":      a.Errors,
		"description": describe(a),
		"signatures":  a.Signatures[:min(len(a.Signatures), maxSignatures)],
		"samples":     a.Samples[:min(len(a.Samples), maxSamples)],
	}
	if a.BurnRate != nil {
		details["burn_rate"] = *a.BurnRate
	}
	for k, ms := range map[string]int64{"window_start": a.WindowStart, "window_end": a.WindowEnd, "first_seen": a.FirstSeen, "last_seen": a.LastSeen} {
		if ms > 0 {
			details[k] = rfc3339(time.UnixMilli(ms))
		}
	}
	return pdEvent{
		RoutingKey:  n.cfg.RoutingKey,
		EventAction: action,
		DedupKey:    PagerDutyDedupKey(a.DedupKey),
		Client:      "logstream",
		Payload: pdPayload{
			Summary:       truncate(alertSummary(a), pdMaxSummary),
			Source:        hostOrFleet(a),
			Severity:      severity,
			Timestamp:     ts,
			Component:     a.Rule,
			Class:         a.Scope,
			CustomDetails: details,
		},
	}
}

// PagerDutyDedupKey returns the dedup key sent for an alert's dedup key:
// the key itself, or, past PagerDuty's 255 characters, a prefix and a
// SHA-256 of the whole key (the same for FIRING and RESOLVED).
func PagerDutyDedupKey(key string) string {
	if len(key) <= pdMaxDedupKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return key[:pdMaxDedupKey-len(h)-1] + "~" + h
}
