package paging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/schemas"
)

// Notifier delivers one alert's change of state to a paging system.
//
// Notify returns nil once the target accepted the alert. It retries what
// may succeed later (network errors, 408, 429, 5xx) until ctx ends, and
// returns an error matching ErrPermanent for what never will (any other
// 4xx, an alert the target refuses); when ctx ends first the error
// matches ctx.Err().
type Notifier interface {
	Notify(ctx context.Context, a *schemas.Alert) error
}

// Resender is a Notifier whose target forgets a FIRING alert unless it
// hears of it again: Alertmanager resolves an alert by itself at its endsAt.
// The Consumer re-sends every open FIRING alert of its partitions to such
// a target each ResendInterval, so that an incident stays active while it
// is open and the pipeline runs, and expires once they stop.
type Resender interface {
	Notifier
	// Resend sends FIRING alerts again. It retries as Notify does, until
	// ctx ends (the Consumer gives it one re-send interval).
	Resend(ctx context.Context, firing []*schemas.Alert) error
	// ValidFor is how long the target keeps a FIRING alert after a send.
	ValidFor() time.Duration
}

// ErrPermanent matches (errors.Is) a delivery the target refused for good:
// sending the same alert again cannot succeed.
var ErrPermanent = errors.New("permanent delivery failure")

// DeliveryError is one failed attempt to deliver an alert.
type DeliveryError struct {
	Target     string // "alertmanager", "pagerduty", "webhook"
	StatusCode int    // HTTP status, 0 when no response arrived
	Body       string // start of the response body, for the log
	Permanent  bool   // retrying cannot help
	RetryAfter time.Duration
	Err        error // the transport error, if any
}

// Error tells the target and what it answered, or the transport error.
func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "paging: %s: ", e.Target)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if e.Body != "" {
			fmt.Fprintf(&b, ": %s", e.Body)
		}
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Permanent {
		b.WriteString(" (permanent, not retried)")
	}
	return b.String()
}

// Unwrap returns the transport error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Is makes a permanent DeliveryError match ErrPermanent.
func (e *DeliveryError) Is(target error) bool { return target == ErrPermanent && e.Permanent }

// Retry is a notifier's retry policy: exponential backoff with jitter.
// The n-th wait is drawn uniformly from [d/2, d] with d = Initial·2ⁿ⁻¹
// capped at Max; a Retry-After header (429, 503) lengthens a wait up to Max.
type Retry struct {
	Initial time.Duration // first wait; 0 means 200ms
	Max     time.Duration // longest wait; 0 means 30s
	// OnRetry, when set, is called before each wait with the number of the
	// attempt that failed (1 for the first), its error and the wait: the
	// hook for logs and metrics.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Defaults of Retry.
const (
	DefaultRetryInitial = retry.DefaultInitial // 200 ms
	DefaultRetryMax     = retry.DefaultMax     // 30 s
)

// Validate reports a negative or inverted setting.
func (r Retry) Validate() error {
	if r.Initial < 0 || r.Max < 0 {
		return errors.New("paging: retry waits must not be negative")
	}
	if r.Initial > 0 && r.Max > 0 && r.Initial > r.Max {
		return fmt.Errorf("paging: retry initial wait %s exceeds the maximum %s", r.Initial, r.Max)
	}
	return nil
}

func (r Retry) withDefaults() Retry {
	if r.Initial == 0 {
		r.Initial = DefaultRetryInitial
	}
	if r.Max == 0 {
		r.Max = DefaultRetryMax
	}
	if r.Initial > r.Max {
		r.Initial = r.Max
	}
	return r
}

// policy is r as the shared retry policy: an error matching ErrPermanent
// stops it, and a DeliveryError's Retry-After lengthens a wait.
func (r Retry) policy() retry.Policy {
	r = r.withDefaults()
	return retry.Policy{
		Initial:    r.Initial,
		Max:        r.Max,
		Permanent:  func(err error) bool { return errors.Is(err, ErrPermanent) },
		RetryAfter: deliveryRetryAfter,
		OnRetry:    r.OnRetry,
	}
}

// deliveryRetryAfter is the Retry-After a target answered with err.
func deliveryRetryAfter(err error) time.Duration {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.RetryAfter
	}
	return 0
}

// Do runs attempt until it succeeds, fails permanently (the error matches
// ErrPermanent), or ctx ends (the error matches ctx.Err() and tells the
// last attempt's).
func (r Retry) Do(ctx context.Context, attempt func(context.Context) error) error {
	return r.policy().Do(ctx, attempt)
}

// HTTP holds what every notifier needs to talk HTTP.
type HTTP struct {
	// Client sends the requests; nil means a client with a 10 s timeout per
	// attempt.
	Client *http.Client
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Retry is the retry policy.
	Retry Retry
}

func (h HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return defaultClient
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// maxErrorBody is how much of an error response is kept for the log.
const maxErrorBody = 512

// post sends body to u once and classifies the outcome: nil for 2xx, a
// *DeliveryError otherwise.
func (h HTTP) post(ctx context.Context, target, u string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return &DeliveryError{Target: target, Permanent: true, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "logstream-page")
	for k, vs := range h.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		// Transport errors (refused, reset, timeout) may pass; a bad URL
		// scheme never does.
		var ue *url.Error
		permanent := errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme")
		return &DeliveryError{Target: target, Permanent: permanent, Err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &DeliveryError{
		Target:     target,
		StatusCode: resp.StatusCode,
		Body:       strings.TrimSpace(string(msg)),
		Permanent:  !retryableStatus(resp.StatusCode),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
}

// retryableStatus tells the statuses worth another attempt: a timeout, a
// rate limit, a server error.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// retryAfter parses a Retry-After header in seconds (HTTP dates are rare
// from these targets and ignored).
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// checkURL validates a notifier's base URL.
func checkURL(what, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("paging: %s URL %q is not an http(s) URL", what, u)
	}
	return nil
}
