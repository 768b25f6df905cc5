package openobserve

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logstream/logstream/sinks"
)

// resultKind classifies the answer to one ingest request.
type resultKind int

const (
	resOK          resultKind = iota // every record sent is stored
	resItems                         // _bulk: a status per record (items)
	resRejected                      // _json: 200, successful+failed = n, failed > 0: some stored, which unknown
	resMismatch                      // 200 whose counts do not add up to n (0/0 over the column limit)
	resUnavailable                   // 429, 503: nothing written
	resBadRequest                    // 400, 413: nothing written
	resServerError                   // another 5xx: anything may be written
	resNoAnswer                      // no answer (timeout, reset, lost): anything may be written
	resRefused                       // 401, 403, 404, another 4xx: a setting to fix (err is *sinks.Permanent)
)

type ingestResult struct {
	kind       resultKind
	status     int
	reason     string       // OpenObserve's error text or body
	items      []itemStatus // resItems: one per record sent, in order
	retryAfter time.Duration
	err        error
}

type itemStatus struct {
	ok     bool
	reason string
}

// maxBody bounds what is read of an answer: a _bulk answer carries an
// item per record (about 200 bytes each).
const maxBody = 64 << 20

// maxReason bounds the error text kept for logs and dead letters.
const maxReason = 1024

// ingest sends entries in one request and classifies the answer. It never
// retries: the caller decides, knowing which outcomes are ambiguous.
func (s *Sink) ingest(ctx context.Context, p *partition, entries []*entry) ingestResult {
	body, contentType := s.body(p, entries)
	u := s.jsonURL
	if s.cfg.Bulk {
		u = s.bulkURL
	}
	start := time.Now()
	status, header, answer, err := s.do(ctx, http.MethodPost, u, contentType, body, s.cfg.Gzip)
	s.m.bytes.Add(float64(len(body)))
	res := s.classifyIngest(status, header, answer, err, p, entries)
	s.m.request(endpointIngest, outcomeOf(res.kind), time.Since(start))
	return res
}

func outcomeOf(k resultKind) string {
	switch k {
	case resOK:
		return OutcomeOK
	case resItems, resRejected, resMismatch:
		return OutcomeIncomplete
	case resUnavailable:
		return OutcomeUnavailable
	case resBadRequest:
		return OutcomeBadRequest
	case resServerError:
		return OutcomeServerError
	case resRefused:
		return OutcomeRefused
	default:
		return OutcomeNoAnswer
	}
}

// body encodes entries as a _json array or _bulk NDJSON, gzipped when
// configured.
func (s *Sink) body(p *partition, entries []*entry) ([]byte, string) {
	var raw bytes.Buffer
	contentType := "application/json"
	if s.cfg.Bulk {
		contentType = "application/x-ndjson"
		for _, e := range entries {
			raw.WriteString(`{"index":{"_index":`)
			appendString(&raw, s.stream)
			raw.WriteString(`,"_id":`)
			appendString(&raw, bulkID(p.topic, p.partition, e.offset))
			raw.WriteString("}}\n")
			raw.Write(e.doc)
			raw.WriteByte('\n')
		}
	} else {
		raw.WriteByte('[')
		for i, e := range entries {
			if i > 0 {
				raw.WriteByte(',')
			}
			raw.Write(e.doc)
		}
		raw.WriteByte(']')
	}
	if !s.cfg.Gzip {
		return raw.Bytes(), contentType
	}
	var z bytes.Buffer
	z.Grow(raw.Len() / 4)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&z)
	_, _ = w.Write(raw.Bytes()) // writes to a bytes.Buffer cannot fail
	_ = w.Close()
	gzipWriters.Put(w)
	return z.Bytes(), contentType
}

// gzipWriters reuses compressors: each holds about a megabyte of state,
// which would otherwise be allocated per request. BestSpeed: the sink's
// CPU, not the network, limits its throughput, and log lines compress well
// even at the fastest level.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// bulkID is the _id of a record in a _bulk request: it maps the answer's
// items back to records (OpenObserve answers items in its own order). It
// is stored as the field _id.
func bulkID(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10) + "/" + strconv.FormatInt(offset, 10)
}

// do sends one request with auth, bounded by the request timeout, and
// reads the answer. status is 0 when no answer arrived.
func (s *Sink) do(ctx context.Context, method, u, contentType string, body []byte, gzipped bool) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth(s.cfg.User, s.cfg.Password)
	req.Header.Set("User-Agent", "logstream-sink-openobserve")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		// The status arrived but not the whole answer: for an ingest the
		// counts are unknown, which is as good as no answer.
		return 0, nil, nil, fmt.Errorf("reading the answer to HTTP %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// jsonAnswer is the _json answer.
type jsonAnswer struct {
	Code   int `json:"code"`
	Status []struct {
		Name       string `json:"name"`
		Successful int    `json:"successful"`
		Failed     int    `json:"failed"`
		Error      string `json:"error"`
	} `json:"status"`
	Error string `json:"error"`
}

// bulkAnswerItem is one item of a _bulk answer (Elasticsearch's shape).
type bulkAnswerItem struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (s *Sink) classifyIngest(status int, header http.Header, answer []byte, err error, p *partition, entries []*entry) ingestResult {
	n := len(entries)
	if err != nil {
		return ingestResult{kind: resNoAnswer, err: fmt.Errorf("no answer from %s: %w", s.cfg.URL, err)}
	}
	text := shorten(answer)
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusRequestTimeout:
		return ingestResult{kind: resUnavailable, status: status, reason: text, retryAfter: retryAfter(header.Get("Retry-After")),
			err: fmt.Errorf("HTTP %d (nothing written): %s", status, text)}
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		return ingestResult{kind: resBadRequest, status: status, reason: text, err: fmt.Errorf("HTTP %d: %s", status, text)}
	case status >= 500:
		return ingestResult{kind: resServerError, status: status, reason: text, err: fmt.Errorf("HTTP %d: %s", status, text)}
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound || (status >= 400 && status < 500):
		return ingestResult{kind: resRefused, status: status, reason: text, err: s.refused(status, text)}
	case status < 200 || status >= 300:
		return ingestResult{kind: resServerError, status: status, reason: text, err: fmt.Errorf("unexpected HTTP %d: %s", status, text)}
	}
	if s.cfg.Bulk {
		return classifyBulk(answer, text, p, entries)
	}
	var a jsonAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return ingestResult{kind: resMismatch, status: status, reason: text, err: fmt.Errorf("HTTP %d with an answer that is not OpenObserve's: %s", status, text)}
	}
	var ok, failed int
	var reason string
	for _, st := range a.Status {
		ok += st.Successful
		failed += st.Failed
		if st.Error != "" {
			reason = st.Error
		}
	}
	if reason == "" {
		reason = a.Error
	}
	switch {
	case ok == n && failed == 0:
		return ingestResult{kind: resOK, status: status}
	case ok+failed == n && failed > 0:
		return ingestResult{kind: resRejected, status: status, reason: reason,
			err: fmt.Errorf("OpenObserve stored %d of %d records, %d failed: %s", ok, n, failed, reason)}
	default:
		return ingestResult{kind: resMismatch, status: status, reason: reason,
			err: fmt.Errorf("OpenObserve answered successful %d, failed %d for %d records (over its column limit, ZO_COLS_PER_RECORD_LIMIT, it stores nothing and says so this way): %s", ok, failed, n, text)}
	}
}

// classifyBulk maps a _bulk answer's items to the records by _id. An
// answer that does not account for every record exactly once (no items
// over the column limit, successes left out with
// ZO_BULK_RESPONSE_INCLUDE_ERRORS_ONLY, one item for a whole stream) is a
// mismatch, reconciled by a search.
func classifyBulk(answer []byte, text string, p *partition, entries []*entry) ingestResult {
	var a struct {
		Items []map[string]bulkAnswerItem `json:"items"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return ingestResult{kind: resMismatch, status: 200, reason: text, err: fmt.Errorf("HTTP 200 with an answer that is not a _bulk answer: %s", text)}
	}
	byID := make(map[string]int, len(entries))
	for i, e := range entries {
		byID[bulkID(p.topic, p.partition, e.offset)] = i
	}
	items := make([]itemStatus, len(entries))
	seen := make([]bool, len(entries))
	all := true
	for _, m := range a.Items {
		for _, it := range m {
			i, ok := byID[it.ID]
			if !ok || seen[i] {
				return mismatchBulk(len(a.Items), len(entries), text)
			}
			seen[i] = true
			if it.Status >= 200 && it.Status < 300 && it.Error == nil {
				items[i].ok = true
				continue
			}
			all = false
			items[i].reason = fmt.Sprintf("status %d", it.Status)
			if it.Error != nil {
				items[i].reason = strings.TrimSpace(it.Error.Type + ": " + it.Error.Reason)
			}
		}
	}
	for _, s := range seen {
		if !s {
			return mismatchBulk(len(a.Items), len(entries), text)
		}
	}
	if all {
		return ingestResult{kind: resOK, status: 200}
	}
	refused, first := 0, ""
	for _, it := range items {
		if !it.ok {
			if refused == 0 {
				first = it.reason
			}
			refused++
		}
	}
	return ingestResult{kind: resItems, status: 200, items: items,
		err: fmt.Errorf("OpenObserve refused %d of %d records: %s", refused, len(items), first)}
}

func mismatchBulk(items, n int, text string) ingestResult {
	return ingestResult{kind: resMismatch, status: 200, reason: text,
		err: fmt.Errorf("OpenObserve's _bulk answer has %d items that do not match the %d records sent: %s", items, n, text)}
}

// refused builds the error of a 4xx that no retry cures, naming the
// setting to fix.
func (s *Sink) refused(status int, text string) error {
	var err error
	switch status {
	case http.StatusUnauthorized:
		err = fmt.Errorf("openobserve: %s refused the credentials (HTTP 401): check LOGSTREAM_OPENOBSERVE_USER and LOGSTREAM_OPENOBSERVE_PASSWORD: %s", s.cfg.URL, text)
	case http.StatusForbidden:
		err = fmt.Errorf("openobserve: user %q may not use organization %q (HTTP 403): check LOGSTREAM_OPENOBSERVE_USER, LOGSTREAM_OPENOBSERVE_PASSWORD and the user's role, or --openobserve-org: %s", s.cfg.User, s.cfg.Org, text)
	case http.StatusNotFound:
		err = fmt.Errorf("openobserve: %s has no organization %q or no such API (HTTP 404): check --openobserve-org (LOGSTREAM_OPENOBSERVE_ORG) and --openobserve-url (LOGSTREAM_OPENOBSERVE_URL): %s", s.cfg.URL, s.cfg.Org, text)
	default:
		err = fmt.Errorf("openobserve: %s answered HTTP %d: check --openobserve-url (LOGSTREAM_OPENOBSERVE_URL) points at OpenObserve: %s", s.cfg.URL, status, text)
	}
	return &sinks.Permanent{Err: err}
}

// errPartialResult is a search result OpenObserve marked partial (a
// querier timed out or was unreachable): it cannot prove a record absent.
var errPartialResult = errors.New("OpenObserve marked the search result partial (is_partial), which cannot prove a record missing")

// searchPageSize is the hits asked per search: OpenObserve's default
// ZO_QUERY_DEFAULT_LIMIT.
const searchPageSize = 1000

// Search error codes that mean "no such record": the stream does not
// exist yet, or has never had the column.
const (
	codeSearchStreamNotFound = 20002
	codeSearchFieldNotFound  = 20004
)

// findOffsets returns the kafka_offset values stored for topic/partition
// from offset from up to to (inclusive; to < 0: no bound), among records
// whose _timestamp is in [start, end) µs. It pages by offset (keyset), so
// duplicates cannot push a record out of the result.
func (s *Sink) findOffsets(ctx context.Context, topic string, partition int32, from, to, start, end int64) (map[int64]struct{}, error) {
	found := map[int64]struct{}{}
	for next := from; ; {
		var upper string
		if to >= 0 {
			upper = " AND kafka_offset <= " + strconv.FormatInt(to, 10)
		}
		sql := fmt.Sprintf(`SELECT kafka_offset FROM "%s" WHERE kafka_topic = %s AND kafka_partition = %d AND kafka_offset >= %d%s ORDER BY kafka_offset`,
			s.stream, sqlString(topic), partition, next, upper)
		offsets, err := s.search(ctx, sql, start, end, searchPageSize)
		if err != nil {
			return nil, err
		}
		last := next - 1
		for _, o := range offsets {
			found[o] = struct{}{}
			last = max(last, o)
		}
		if len(offsets) < searchPageSize {
			return found, nil
		}
		next = last + 1
	}
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

type searchRequest struct {
	Query struct {
		SQL       string `json:"sql"`
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		From      int    `json:"from"`
		Size      int    `json:"size"`
	} `json:"query"`
	UseCache bool `json:"use_cache"`
}

type searchAnswer struct {
	Hits      []map[string]json.RawMessage `json:"hits"`
	Total     int                          `json:"total"`
	IsPartial bool                         `json:"is_partial"`
}

// search runs one query for kafka_offset values. The result cache is off:
// a cached answer from before a write would prove nothing.
func (s *Sink) search(ctx context.Context, sql string, start, end int64, size int) ([]int64, error) {
	var q searchRequest
	q.Query.SQL, q.Query.StartTime, q.Query.EndTime, q.Query.Size = sql, start, end, size
	body, _ := json.Marshal(q)
	t0 := time.Now()
	status, _, answer, err := s.do(ctx, http.MethodPost, s.searchURL, "application/json", body, false)
	outcome := OutcomeOK
	defer func() { s.m.request(endpointSearch, outcome, time.Since(t0)) }()
	if err != nil {
		outcome = OutcomeNoAnswer
		return nil, fmt.Errorf("search: no answer from %s: %w", s.cfg.URL, err)
	}
	text := shorten(answer)
	switch {
	case status == http.StatusBadRequest:
		var e struct {
			Code int `json:"code"`
		}
		if json.Unmarshal(answer, &e) == nil && (e.Code == codeSearchStreamNotFound || e.Code == codeSearchFieldNotFound) {
			return nil, nil // nothing of ours was ever stored
		}
		outcome = OutcomeBadRequest
		return nil, &sinks.Permanent{Err: fmt.Errorf("openobserve: search refused (HTTP 400): %s (query: %s)", text, sql)}
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		outcome = OutcomeRefused
		return nil, s.refused(status, text)
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusRequestTimeout:
		outcome = OutcomeUnavailable
		return nil, fmt.Errorf("search: HTTP %d: %s", status, text)
	case status < 200 || status >= 300:
		outcome = OutcomeServerError
		return nil, fmt.Errorf("search: HTTP %d: %s", status, text)
	}
	var a searchAnswer
	dec := json.NewDecoder(bytes.NewReader(answer))
	if err := dec.Decode(&a); err != nil {
		outcome = OutcomeServerError
		return nil, fmt.Errorf("search: answer is not OpenObserve's: %w: %s", err, text)
	}
	if a.IsPartial {
		outcome = OutcomeIncomplete
		return nil, errPartialResult
	}
	offsets := make([]int64, 0, len(a.Hits))
	for _, h := range a.Hits {
		raw, ok := h["kafka_offset"]
		if !ok {
			continue // a row without the column is no record of ours
		}
		o, err := parseOffset(raw)
		if err != nil {
			outcome = OutcomeServerError
			return nil, fmt.Errorf("search: hit with kafka_offset %s: %w", raw, err)
		}
		offsets = append(offsets, o)
	}
	return offsets, nil
}

// parseOffset reads a kafka_offset hit: a JSON number, or a string if the
// column was ever typed as text.
func parseOffset(raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.ParseInt(n.String(), 10, 64)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// check reaches OpenObserve once with the credentials.
func (s *Sink) check(ctx context.Context) error {
	t0 := time.Now()
	status, _, answer, err := s.do(ctx, http.MethodGet, s.streamsURL, "", nil, false)
	if err != nil {
		s.m.request(endpointCheck, OutcomeNoAnswer, time.Since(t0))
		err = fmt.Errorf("openobserve: cannot reach %s: %w: check --openobserve-url (LOGSTREAM_OPENOBSERVE_URL)", s.cfg.URL, err)
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return &sinks.Permanent{Err: err}
		}
		return err
	}
	text := shorten(answer)
	switch {
	case status >= 200 && status < 300:
		s.m.request(endpointCheck, OutcomeOK, time.Since(t0))
		return nil
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout:
		s.m.request(endpointCheck, OutcomeRefused, time.Since(t0))
		return s.refused(status, text)
	default:
		s.m.request(endpointCheck, OutcomeServerError, time.Since(t0))
		return fmt.Errorf("openobserve: %s answered HTTP %d: %s", s.cfg.URL, status, text)
	}
}

// retryAfter parses a Retry-After header in seconds.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// shorten returns the start of an answer, for errors and dead letters.
func shorten(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "…"
	}
	return s
}
