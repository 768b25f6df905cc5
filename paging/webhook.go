package paging

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/logstream/logstream/schemas"
)

// WebhookConfig configures delivery to a generic HTTP endpoint.
type WebhookConfig struct {
	// URL receives a POST per alert.
	URL  string
	HTTP HTTP
}

// Validate reports the first invalid setting.
func (c WebhookConfig) Validate() error {
	if err := checkURL("webhook", c.URL); err != nil {
		return err
	}
	return c.HTTP.Retry.Validate()
}

// Webhook posts each alert as JSON (schemas.Alert's json tags) with the
// header Idempotency-Key: the alert's id, which is the same when a record
// is delivered again, so the receiver can drop repeats. Any 2xx is success.
type Webhook struct {
	cfg WebhookConfig
}

// NewWebhook validates cfg and returns the notifier.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Webhook{cfg: cfg}, nil
}

// Notify posts a, retrying as documented on Notifier.
func (n *Webhook) Notify(ctx context.Context, a *schemas.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return &DeliveryError{Target: TargetWebhook, Permanent: true, Err: err}
	}
	h := http.Header{"Idempotency-Key": {a.ID}}
	return n.cfg.HTTP.Retry.Do(ctx, func(ctx context.Context) error {
		return n.cfg.HTTP.post(ctx, TargetWebhook, n.cfg.URL, body, h)
	})
}
