package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// Client defaults.
const (
	// DefaultTimeout bounds each request of a Client that was not given its
	// own *http.Client.
	DefaultTimeout = 10 * time.Second
	// DefaultMinRefresh is how often, at most, a Client lists the registry
	// again because it was asked for a fingerprint it does not know.
	DefaultMinRefresh = 10 * time.Second
)

const (
	// sharedTimeout bounds a fetch shared by several callers, which runs
	// detached from any one caller's context.
	sharedTimeout = time.Minute
	// maxResponse bounds a response body.
	maxResponse = 16 << 20
	// maxMissingIDs bounds the memory of ids found missing.
	maxMissingIDs = 4096
)

var _ codecs.SchemaSource = (*Client)(nil)

// Client reads Avro schemas from a Confluent Schema Registry (logstream's
// own, or any other) and implements codecs.SchemaSource. Schemas are cached
// for the Client's life: a schema id, and a fingerprint, name one schema
// forever. It is safe for concurrent use; concurrent requests for the same
// id, and concurrent rebuilds of the fingerprint index, share one fetch.
type Client struct {
	base       string // scheme://host[/path], without credentials or trailing slash
	user, pass string
	auth       bool
	hc         *http.Client
	minRefresh time.Duration
	now        func() time.Time
	flight     singleflight.Group

	mu          sync.Mutex
	byID        map[int]string
	missingID   map[int]time.Time // ids the registry did not have, and when
	byFP        map[uint64]string
	refreshed   bool // the fingerprint index was built at least once
	refreshedAt time.Time
	refreshErr  error // of the last build
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient makes the Client send its requests with hc (for TLS
// settings, a proxy or other timeouts) instead of an *http.Client with
// DefaultTimeout.
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.hc = hc } }

// WithMinRefresh sets how often, at most, the Client lists the registry
// again to find a fingerprint it does not know, and how long it remembers
// an id the registry did not have (default DefaultMinRefresh). A flood of
// records written with unknown schemas thus costs one listing per period,
// not one per record.
func WithMinRefresh(d time.Duration) ClientOption { return func(c *Client) { c.minRefresh = d } }

// WithClock replaces time.Now, for tests of the refresh period.
func WithClock(now func() time.Time) ClientOption { return func(c *Client) { c.now = now } }

// NewClient returns a Client of the registry at baseURL ("http://host:8081",
// or with a path prefix). Credentials in the URL
// ("https://user:password@host") are sent as HTTP basic auth and appear in
// no error message.
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the URL, credentials and all
		}
		return nil, fmt.Errorf("registry: the registry URL does not parse: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry: the registry URL must be http://host[:port] or https://host[:port], got %q", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("registry: the registry URL must have no query or fragment, got %q", u.Redacted())
	}
	c := &Client{
		hc:         &http.Client{Timeout: DefaultTimeout},
		minRefresh: DefaultMinRefresh,
		now:        time.Now,
		byID:       map[int]string{},
		missingID:  map[int]time.Time{},
		byFP:       map[uint64]string{},
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		c.auth = true
		u.User = nil
	}
	c.base = strings.TrimSuffix(u.String(), "/")
	for _, o := range opts {
		o(c)
	}
	switch {
	case c.hc == nil:
		return nil, errors.New("registry: WithHTTPClient(nil)")
	case c.now == nil:
		return nil, errors.New("registry: WithClock(nil)")
	case c.minRefresh < 0:
		return nil, fmt.Errorf("registry: WithMinRefresh(%s): the period must not be negative", c.minRefresh)
	}
	return c, nil
}

// URL returns the registry's base URL, without credentials.
func (c *Client) URL() string { return c.base }

// SchemaByID returns the schema with the registry id id (GET
// /schemas/ids/{id}). An id the registry does not have is an error
// wrapping codecs.ErrSchemaNotFound, and is not asked for again for
// MinRefresh.
func (c *Client) SchemaByID(ctx context.Context, id int) (string, error) {
	c.mu.Lock()
	s, ok := c.byID[id]
	missing, wasMissing := c.missingID[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	if wasMissing && c.now().Sub(missing) < c.minRefresh {
		return "", fmt.Errorf("registry: schema id %d: %w at %s (asked %s ago)", id, codecs.ErrSchemaNotFound, c.base, c.now().Sub(missing).Round(time.Millisecond))
	}
	v, err := c.shared(ctx, "id:"+strconv.Itoa(id), func(ctx context.Context) (any, error) {
		var resp schemaByID
		if err := c.get(ctx, &resp, "schemas", "ids", strconv.Itoa(id)); err != nil {
			return nil, err
		}
		if resp.SchemaType != "" && !strings.EqualFold(resp.SchemaType, SchemaTypeAvro) {
			return nil, fmt.Errorf("it is a %s schema, not Avro", resp.SchemaType)
		}
		c.mu.Lock()
		c.byID[id] = resp.Schema
		delete(c.missingID, id)
		c.mu.Unlock()
		return resp.Schema, nil
	})
	if err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Code == CodeSchemaNotFound {
			c.mu.Lock()
			if len(c.missingID) >= maxMissingIDs {
				clear(c.missingID)
			}
			c.missingID[id] = c.now()
			c.mu.Unlock()
			return "", fmt.Errorf("registry: schema id %d: %w (%w)", id, codecs.ErrSchemaNotFound, apiErr)
		}
		return "", fmt.Errorf("registry: schema id %d: %w", id, err)
	}
	return v.(string), nil
}

// SchemaByFingerprint returns the schema whose CRC-64-AVRO fingerprint (of
// its parsing canonical form, schemas.Fingerprint) or legacy fingerprint
// (schemas.LegacyFingerprint, what logstream wrote before) is fp. A Confluent registry has no lookup by
// fingerprint, so the Client lists every version of every subject and
// indexes them; when asked for a fingerprint it does not have, it lists
// again, but at most once per MinRefresh. A fingerprint in no subject is an
// error wrapping codecs.ErrSchemaNotFound. Versions goavro cannot parse on
// their own (schemas with references) and schemas other than Avro are left
// out of the index.
func (c *Client) SchemaByFingerprint(ctx context.Context, fp uint64) (string, error) {
	if s, ok := c.indexed(fp); ok {
		return s, nil
	}
	// Even when no listing is due, a miss goes through the shared call: a
	// listing in flight may be about to add fp.
	v, err := c.shared(ctx, "index", c.refresh)
	listed, _ := v.(bool)
	if s, ok := c.indexed(fp); ok {
		return s, nil // perhaps from the part of a failed listing that worked
	}
	if err != nil {
		if listed || ctx.Err() != nil {
			return "", fmt.Errorf("registry: fingerprint %016x: listing the registry's schemas: %w", fp, err)
		}
		return "", fmt.Errorf("registry: fingerprint %016x: the last listing of the registry's schemas failed, the next is at most %s later: %w", fp, c.minRefresh, err)
	}
	return "", fmt.Errorf("registry: fingerprint %016x: %w under any subject of %s", fp, codecs.ErrSchemaNotFound, c.base)
}

func (c *Client) indexed(fp uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byFP[fp]
	return s, ok
}

// refresh rebuilds the fingerprint index, unless it was rebuilt less than
// MinRefresh ago; then it returns false and the last rebuild's error.
func (c *Client) refresh(ctx context.Context) (any, error) {
	c.mu.Lock()
	if c.refreshed && c.now().Sub(c.refreshedAt) < c.minRefresh {
		err := c.refreshErr
		c.mu.Unlock()
		return false, err
	}
	c.refreshed, c.refreshedAt = true, c.now()
	c.mu.Unlock()

	fps, ids, err := c.fetchIndex(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	// What a failed listing did fetch is still right: keep it.
	for fp, s := range fps {
		c.byFP[fp] = s
	}
	for id, s := range ids {
		c.byID[id] = s
		delete(c.missingID, id)
	}
	c.refreshErr = err
	return true, err
}

// fetchIndex lists every version of every subject.
func (c *Client) fetchIndex(ctx context.Context) (map[uint64]string, map[int]string, error) {
	fps, ids := map[uint64]string{}, map[int]string{}
	var subjects []string
	if err := c.get(ctx, &subjects, "subjects"); err != nil {
		return fps, ids, err
	}
	for _, subj := range subjects {
		var versions []int
		if err := c.get(ctx, &versions, "subjects", subj, "versions"); err != nil {
			if deletedMeanwhile(err) {
				continue
			}
			return fps, ids, err
		}
		for _, v := range versions {
			var sv subjectVersion
			if err := c.get(ctx, &sv, "subjects", subj, "versions", strconv.Itoa(v)); err != nil {
				if deletedMeanwhile(err) {
					continue
				}
				return fps, ids, err
			}
			if sv.SchemaType != "" && !strings.EqualFold(sv.SchemaType, SchemaTypeAvro) {
				continue
			}
			ids[sv.ID] = sv.Schema
			// Records written before logstream followed the
			// specification carry the legacy fingerprint; goavro
			// computes it, so a schema it cannot parse is left out.
			legacy, err := schemas.LegacyFingerprint(sv.Schema)
			if err != nil {
				continue
			}
			fp, err := schemas.Fingerprint(sv.Schema)
			if err != nil {
				continue
			}
			fps[fp] = sv.Schema
			if _, taken := fps[legacy]; !taken {
				fps[legacy] = sv.Schema
			}
		}
	}
	return fps, ids, nil
}

func deletedMeanwhile(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == CodeSubjectNotFound || e.Code == CodeVersionNotFound)
}

// shared runs f once for all concurrent callers with the same key. f runs
// detached from the first caller's cancellation (it serves the others too),
// within sharedTimeout; each caller stops waiting when its own ctx ends.
func (c *Client) shared(ctx context.Context, key string, f func(context.Context) (any, error)) (any, error) {
	ch := c.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
		defer cancel()
		return f(fctx)
	})
	select {
	case res := <-ch:
		return res.Val, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// get sends GET base/segs... (each segment escaped) and decodes the JSON
// answer into out. An error response is an *Error.
func (c *Client) get(ctx context.Context, out any, segs ...string) error {
	var path strings.Builder
	for _, s := range segs {
		path.WriteByte('/')
		path.WriteString(url.PathEscape(s))
	}
	target := c.base + path.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	if c.auth {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading the response: %w", target, err)
	}
	if len(body) > maxResponse {
		return fmt.Errorf("GET %s: the response is larger than %d bytes", target, maxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Op: "GET " + target, Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(body, &eb) == nil && (eb.ErrorCode != 0 || eb.Message != "") {
			e.Code, e.Message = eb.ErrorCode, eb.Message
		} else {
			e.Message = snippet(body, http.StatusText(resp.StatusCode))
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: the response is not what a schema registry answers: %v (%s)", target, err, snippet(body, "empty body"))
	}
	return nil
}

// snippet is the start of a body, for an error message.
func snippet(body []byte, empty string) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return empty
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}
