// Package o2test is an in-memory OpenObserve for tests: the ingestion and
// search API the openobserve sink uses, with the behaviours its exactly-once
// writer must survive, and fault injection.
//
// No OpenObserve binary can be installed on the machines the project is
// built on, so this server reproduces what OpenObserve's source (2026) does,
// as far as a writer can observe it:
//
//   - Basic auth on every request (401 otherwise); organizations other than
//     the configured ones answer 404.
//   - POST /api/{org}/{stream}/_json takes an array of objects or one
//     object; POST /api/{org}/_bulk takes Elasticsearch NDJSON (an action
//     line with _index and optional _id, then the document; _id is stored
//     as a field) and answers a status per record. Bodies may be gzipped
//     (Content-Encoding: gzip). A body that is not JSON answers 400.
//   - Records are stored as OpenObserve stores them: keys formatted
//     (lowercase; characters that are not lowercase letters, digits or "_"
//     become "_"), objects flattened with "_" down to three levels and
//     deeper ones kept as a JSON string, arrays as JSON strings, empty
//     objects and arrays and nulls dropped; stream names formatted.
//   - _timestamp is in microseconds: numbers scaled by magnitude (seconds,
//     milliseconds, microseconds, nanoseconds), numeric and RFC 3339 (and
//     the other upstream formats) strings parsed, absent means now. A record
//     older than 5 h or more than 24 h ahead is counted failed with
//     OpenObserve's error text.
//   - _json answers {"code":200,"status":[{"name":S,"successful":N,
//     "failed":M,"error":"..."}]}. When the fields of a request's records
//     (the union, as OpenObserve infers one schema per request) exceed the
//     column limit and differ from the stream's, nothing is stored and the
//     answer is 200 with successful 0 (failed counts only timestamp
//     failures); _bulk then has no items for those records.
//   - POST /api/{org}/_search runs the SQL subset in sql.go over records
//     with start_time <= _timestamp < end_time, honours from and size, and
//     answers {"took","hits","total","from","size","is_partial",...}. A
//     stream that does not exist answers 400 with code 20002, a column the
//     stream never had 400 with code 20004, as OpenObserve does.
//   - GET /api/{org}/streams lists the org's streams.
//
// Faults (Faults for rates, Inject for a script) are decided per request in
// arrival order from a seeded generator, so a test that sends requests in
// a fixed order sees the same faults for the same seed.
//
// Like OpenObserve, the server carries on with a request whose client has
// gone (FaultLate does it on purpose): its records can land after the
// client's timeout. Transport holds that lag to what the writer's
// Config.Settle assumes, whatever the machine's load; see there.
package o2test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultUser        = "root@example.com"
	DefaultPassword    = "Complexpass#123"
	DefaultOrg         = "default"
	DefaultColumnLimit = 1000
	DefaultPoisonField = "poison"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// User and Password are the only credentials accepted.
	User, Password string
	// Orgs are the organizations that exist; nil means DefaultOrg.
	Orgs []string
	// ColumnLimit is ZO_COLS_PER_RECORD_LIMIT (default 1000).
	ColumnLimit int
	// FlattenLevel is ZO_INGEST_FLATTEN_LEVEL (default 3).
	FlattenLevel int
	// AllowedUpto and AllowedInFuture are ZO_INGEST_ALLOWED_UPTO and
	// ZO_INGEST_ALLOWED_IN_FUTURE (default 5 h and 24 h).
	AllowedUpto, AllowedInFuture time.Duration
	// PoisonField makes a whole ingest request answer 400, as a malformed
	// one would, when any of its records has this field (after
	// formatting and flattening; default "poison").
	PoisonField string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seed seeds the fault generator.
	Seed uint64
	// Faults are the random fault rates.
	Faults Faults
	// RetryAfter is the Retry-After header of 429 and 503 answers, in
	// seconds (0: none).
	RetryAfter int
	// SlowDelay is how long a FaultSlow answer waits after writing, and
	// the longest a FaultLate request waits for its client to give up
	// (default 1 s; the client's timeout is meant to expire first).
	SlowDelay time.Duration
}

// Faults are the probabilities, each in [0, 1] and summing to at most 1,
// of a fault on one ingest request (first group) or one search (second).
type Faults struct {
	Unavailable     float64 // 503 before writing (a memory or disk circuit breaker)
	TooManyRequests float64 // 429 before writing (a quota)
	InternalError   float64 // 500 before writing
	LostResponse    float64 // write everything, then close the connection unanswered
	PartialOK       float64 // write the first k, answer 200 with accurate counts
	PartialError    float64 // write the first k, answer 500
	PartialLost     float64 // write the first k, close the connection unanswered
	ZeroZero        float64 // write nothing, answer 200 with successful 0, failed 0
	FalseSuccess    float64 // write nothing, answer 200 as if all were written (a failed WAL write)
	Slow            float64 // write everything, answer after SlowDelay
	Late            float64 // wait until the client gives up (at most SlowDelay), then write everything

	SearchPartial     float64 // answer is_partial: true with some hits left out
	SearchUnavailable float64 // answer 503
}

// FaultKind is one kind of ingest fault.
type FaultKind int

// Ingest faults; see Faults.
const (
	FaultNone FaultKind = iota
	FaultUnavailable
	FaultTooManyRequests
	FaultInternalError
	FaultLostResponse
	FaultPartialOK
	FaultPartialError
	FaultPartialLost
	FaultZeroZero
	FaultFalseSuccess
	FaultSlow
	FaultLate
	numFaults
)

var faultNames = [...]string{"none", "unavailable", "too_many_requests", "internal_error", "lost_response",
	"partial_ok", "partial_error", "partial_lost", "zero_zero", "false_success", "slow", "late"}

func (k FaultKind) String() string {
	if k < 0 || k >= numFaults {
		return "fault(" + strconv.Itoa(int(k)) + ")"
	}
	return faultNames[k]
}

// Fault is one scripted ingest fault. K is how many records the partial
// faults write (-1: a random number).
type Fault struct {
	Kind FaultKind
	K    int
}

// SearchFaultKind is one kind of search fault.
type SearchFaultKind int

// Search faults; see Faults.
const (
	SearchOK SearchFaultKind = iota
	SearchPartial
	SearchUnavailable
)

// Stats count what the server saw.
type Stats struct {
	IngestRequests int
	SearchRequests int
	StreamRequests int
	Unauthorized   int
	BadRequests    int // 400 answers to ingest requests (poison, not JSON)
	Stored         int // records stored
	Faults         map[FaultKind]int
	SearchFaults   map[SearchFaultKind]int
}

// Server is an in-memory OpenObserve. It is an http.Handler; Start serves
// it on 127.0.0.1.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	rng     *rand.Rand
	streams map[string]*stream // by org + "/" + formatted name
	script  []Fault
	sscript []SearchFaultKind
	stats   Stats

	hs *httptest.Server

	// conns are the server's connections by the client's address, for
	// Transport; closing is closed by Close.
	connMu  sync.Mutex
	conns   map[string]*connEnd
	closing chan struct{}
}

// connEnd is closed when the server is done with a connection.
type connEnd struct {
	done     chan struct{}
	finished bool
}

type stream struct {
	org, name string
	docs      []map[string]any
	fields    map[string]struct{}
}

// New returns a server; call Start to listen, or use it as a handler.
func New(opts Options) *Server {
	if opts.User == "" && opts.Password == "" {
		opts.User, opts.Password = DefaultUser, DefaultPassword
	}
	if opts.Orgs == nil {
		opts.Orgs = []string{DefaultOrg}
	}
	if opts.ColumnLimit == 0 {
		opts.ColumnLimit = DefaultColumnLimit
	}
	if opts.FlattenLevel == 0 {
		opts.FlattenLevel = 3
	}
	if opts.AllowedUpto == 0 {
		opts.AllowedUpto = 5 * time.Hour
	}
	if opts.AllowedInFuture == 0 {
		opts.AllowedInFuture = 24 * time.Hour
	}
	if opts.PoisonField == "" {
		opts.PoisonField = DefaultPoisonField
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = time.Second
	}
	s := &Server{
		opts:    opts,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		streams: map[string]*stream{},
		stats:   Stats{Faults: map[FaultKind]int{}, SearchFaults: map[SearchFaultKind]int{}},
		conns:   map[string]*connEnd{},
		closing: make(chan struct{}),
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /api/{org}/streams", s.auth(s.handleStreams))
	s.mux.HandleFunc("POST /api/{org}/_search", s.auth(s.handleSearch))
	s.mux.HandleFunc("POST /api/{org}/_bulk", s.auth(s.handleBulk))
	s.mux.HandleFunc("POST /api/{org}/{stream}/_json", s.auth(s.handleJSON))
	return s
}

// Start serves the server on 127.0.0.1 at a free port.
func (s *Server) Start() {
	s.hs = httptest.NewUnstartedServer(s)
	s.hs.Config.ConnState = s.connState
	s.hs.Start()
}

// URL is the base URL of a started server.
func (s *Server) URL() string { return s.hs.URL }

// Close stops a started server.
func (s *Server) Close() {
	s.connMu.Lock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.connMu.Unlock()
	if s.hs != nil {
		s.hs.Close()
	}
}

// Transport returns a RoundTripper for this server's clients: next (nil:
// a clone of http.DefaultTransport) except that a request that gets no
// answer (a timeout, a cancelled context, a lost connection) returns its
// error only once the server is done with it, that is once the
// connection it went out on is closed at the server too (http.Server
// closes a connection after its handler returns; a hijacked one is done
// at the hijack, which comes after the write). It needs a started server
// and only reaches this one.
//
// Why: OpenObserve can store a request's records after its client gave up
// (its HTTP server does not stop a handler when the client disconnects),
// and so can this server: a handler that the scheduler or the lock holds
// back writes after the client's timeout. The writer waits Config.Settle
// after an unanswered request before it searches for what landed; a
// server slower than that makes the resend a duplicate, a limit the
// writer documents. On a loaded machine this in-process server lags the
// client by tens to hundreds of milliseconds, more than any Settle a fast
// test can use; through this transport the server's lag is over before
// the writer even sees the error, so a test exercises the protocol under
// the writer's assumption, not that limit, and does so deterministically.
func (s *Server) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &settledTransport{s: s, next: next}
}

type settledTransport struct {
	s    *Server
	next http.RoundTripper
}

func (t *settledTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		mu.Lock()
		conns = append(conns, info.Conn)
		mu.Unlock()
	}}
	resp, err := t.next.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
	if err == nil {
		return resp, nil // the handler wrote its answer after its write
	}
	mu.Lock()
	used := conns
	mu.Unlock()
	for _, c := range used {
		// The transport closes a connection it gave up on; closing it
		// here too makes sure the server reads its end.
		_ = c.Close()
		select {
		case <-t.s.connDone(c.LocalAddr().String()):
		case <-t.s.closing:
		}
	}
	return nil, err
}

// connState follows the server's connections (http.Server.ConnState).
func (s *Server) connState(c net.Conn, state http.ConnState) {
	addr := c.RemoteAddr().String()
	s.connMu.Lock()
	defer s.connMu.Unlock()
	e := s.conns[addr]
	switch state {
	case http.StateNew:
		// A finished entry is an earlier connection from the same port;
		// an unfinished one was made by a client waiting for this one.
		if e == nil || e.finished {
			s.conns[addr] = &connEnd{done: make(chan struct{})}
		}
	case http.StateClosed, http.StateHijacked:
		if e == nil {
			e = &connEnd{done: make(chan struct{})}
			s.conns[addr] = e
		}
		if !e.finished {
			e.finished = true
			close(e.done)
		}
	}
}

// connDone is closed when the server is done with the connection from
// addr; a client may ask before the server has accepted it.
func (s *Server) connDone(addr string) <-chan struct{} {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	e := s.conns[addr]
	if e == nil {
		e = &connEnd{done: make(chan struct{})}
		s.conns[addr] = e
	}
	return e.done
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults replaces the random fault rates.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Faults = f
}

// Inject queues faults for the next ingest requests, ahead of the random
// ones.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, f...)
}

// InjectSearch queues faults for the next searches.
func (s *Server) InjectSearch(f ...SearchFaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sscript = append(s.sscript, f...)
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Faults = make(map[FaultKind]int, len(s.stats.Faults))
	for k, v := range s.stats.Faults {
		st.Faults[k] = v
	}
	st.SearchFaults = make(map[SearchFaultKind]int, len(s.stats.SearchFaults))
	for k, v := range s.stats.SearchFaults {
		st.SearchFaults[k] = v
	}
	return st
}

// Docs returns copies of every record stored in a stream, in the order
// stored. Numbers are json.Number.
func (s *Server) Docs(org, streamName string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[org+"/"+FormatStreamName(streamName)]
	if st == nil {
		return nil
	}
	out := make([]map[string]any, len(st.docs))
	for i, d := range st.docs {
		c := make(map[string]any, len(d))
		for k, v := range d {
			c[k] = v
		}
		out[i] = c
	}
	return out
}

// Offsets counts the stored records of one topic partition by
// kafka_offset: the exactly-once check is that every count is 1.
func (s *Server) Offsets(org, streamName, topic string, partition int32) map[int64]int {
	out := map[int64]int{}
	for _, d := range s.Docs(org, streamName) {
		if d["kafka_topic"] != topic || fmt.Sprint(d["kafka_partition"]) != strconv.Itoa(int(partition)) {
			continue
		}
		o, err := strconv.ParseInt(fmt.Sprint(d["kafka_offset"]), 10, 64)
		if err == nil {
			out[o]++
		}
	}
	return out
}

// Put stores documents as an ingest without faults would (formatted,
// flattened, timestamped), bypassing HTTP: to set up a store that already
// holds records.
func (s *Server) Put(org, streamName string, docs ...map[string]any) error {
	items := make([]any, len(docs))
	for i, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if items[i], err = decodeJSON(b); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(org, FormatStreamName(streamName))
	recs, _, failed := s.prepare(items)
	if failed > 0 {
		return fmt.Errorf("o2test: %d documents would fail ingestion", failed)
	}
	if !s.fitsColumns(st, recs) {
		return errors.New("o2test: documents over the column limit")
	}
	s.store(st, recs)
	return nil
}

func (s *Server) stream(org, name string) *stream {
	key := org + "/" + name
	st := s.streams[key]
	if st == nil {
		st = &stream{org: org, name: name, fields: map[string]struct{}{}}
		s.streams[key] = st
	}
	return st
}

// auth checks basic auth and the org.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r.Header.Get("Authorization")) {
			s.mu.Lock()
			s.stats.Unauthorized++
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized Access"})
			return
		}
		org := r.PathValue("org")
		found := false
		for _, o := range s.opts.Orgs {
			found = found || o == org
		}
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "Organization not found: " + org})
			return
		}
		h(w, r)
	}
}

func (s *Server) authorized(h string) bool {
	const prefix = "Basic "
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(b), ":")
	return ok && user == s.opts.User && pass == s.opts.Password
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// body reads a request body, gunzipping it when it says so.
func body(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		z, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer z.Close()
		rd = z
	}
	return io.ReadAll(rd)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing characters after the JSON value")
	}
	return v, nil
}

// nextFault picks the fault of an ingest request of n records (locked).
func (s *Server) nextFault(n int) Fault {
	if len(s.script) > 0 {
		f := s.script[0]
		s.script = s.script[1:]
		return f
	}
	f := s.opts.Faults
	x := s.rng.Float64()
	for _, c := range []struct {
		rate float64
		kind FaultKind
	}{
		{f.Unavailable, FaultUnavailable}, {f.TooManyRequests, FaultTooManyRequests}, {f.InternalError, FaultInternalError},
		{f.LostResponse, FaultLostResponse}, {f.PartialOK, FaultPartialOK}, {f.PartialError, FaultPartialError},
		{f.PartialLost, FaultPartialLost}, {f.ZeroZero, FaultZeroZero}, {f.FalseSuccess, FaultFalseSuccess}, {f.Slow, FaultSlow},
		{f.Late, FaultLate},
	} {
		if x < c.rate {
			// A random partial 200 needs two records: a record reported
			// failed when sent alone must have failed for a reason of its
			// own, which is what a writer dead-letters.
			if c.kind == FaultPartialOK && n < 2 {
				return Fault{Kind: FaultNone}
			}
			return Fault{Kind: c.kind, K: -1}
		}
		x -= c.rate
	}
	return Fault{Kind: FaultNone}
}

// nextSearchFault picks the fault of a search (locked).
func (s *Server) nextSearchFault() SearchFaultKind {
	if len(s.sscript) > 0 {
		f := s.sscript[0]
		s.sscript = s.sscript[1:]
		return f
	}
	x := s.rng.Float64()
	switch {
	case x < s.opts.Faults.SearchPartial:
		return SearchPartial
	case x < s.opts.Faults.SearchPartial+s.opts.Faults.SearchUnavailable:
		return SearchUnavailable
	}
	return SearchOK
}

// preWrite answers the faults that come before anything is written; it
// reports whether it answered.
func (s *Server) preWrite(w http.ResponseWriter, f Fault) bool {
	switch f.Kind {
	case FaultUnavailable:
		s.retryAfter(w)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"code": 503, "message": "MemoryTableOverflowError: reached the max memtable size (injected)"})
	case FaultTooManyRequests:
		s.retryAfter(w)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": 429, "message": "ingestion quota exceeded (injected)"})
	case FaultInternalError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": 500, "message": "internal error (injected, nothing written)"})
	default:
		return false
	}
	return true
}

func (s *Server) retryAfter(w http.ResponseWriter) {
	if s.opts.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s.opts.RetryAfter))
	}
}

// toWrite is how many of n accepted records a fault lets be written
// (locked).
func (s *Server) toWrite(f Fault, n int) int {
	switch f.Kind {
	case FaultZeroZero, FaultFalseSuccess:
		return 0
	case FaultPartialOK:
		if f.K >= 0 {
			return min(f.K, n)
		}
		return s.rng.IntN(max(n, 1)) // 0..n-1: at least one fails
	case FaultPartialError, FaultPartialLost:
		if f.K >= 0 {
			return min(f.K, n)
		}
		return s.rng.IntN(n + 1)
	}
	return n
}

// postWrite answers the faults that come after writing; it reports whether
// it answered (or closed the connection).
func (s *Server) postWrite(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f.Kind {
	case FaultLostResponse, FaultPartialLost:
		hang(w)
	case FaultPartialError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": 500, "message": "internal error (injected, after a partial write)"})
	case FaultSlow:
		t := time.NewTimer(s.opts.SlowDelay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true // the client gave up
		case <-t.C:
		}
		return false
	default:
		return false
	}
	return true
}

// late waits until the client of r has gone, at most SlowDelay: the
// request is then written and answered as usual, as OpenObserve finishes
// a request whose client disconnected.
func (s *Server) late(r *http.Request) {
	t := time.NewTimer(s.opts.SlowDelay)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

// hang closes the connection without an answer: the write was applied,
// the client cannot know.
func hang(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("o2test: the ResponseWriter cannot be hijacked; serve the Server over HTTP/1")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// record is one record ready to store.
type record struct {
	doc map[string]any
}

// prepare flattens items and checks their _timestamp, as ingest::ingest
// does. It returns the accepted records, the last error and the number
// that failed.
func (s *Server) prepare(items []any) ([]record, string, int) {
	now := s.opts.Now()
	minTS := now.Add(-s.opts.AllowedUpto).UnixMicro()
	maxTS := now.Add(s.opts.AllowedInFuture).UnixMicro()
	var (
		out    []record
		errMsg string
		failed int
	)
	for _, it := range items {
		doc, err := flatten(it, s.opts.FlattenLevel)
		if err != nil {
			failed++
			errMsg = err.Error()
			continue
		}
		ts, valid := now.UnixMicro(), false
		if v, ok := doc["_timestamp"]; ok && v != nil {
			ts, valid, err = parseTimestamp(v, now)
			if err != nil {
				failed++
				errMsg = "Can't parse timestamp"
				continue
			}
		}
		if ts < minTS {
			failed++
			errMsg = tooOld(s.opts.AllowedUpto)
			continue
		}
		if ts > maxTS {
			failed++
			errMsg = tooFar(s.opts.AllowedInFuture)
			continue
		}
		if !valid {
			doc["_timestamp"] = json.Number(strconv.FormatInt(ts, 10))
		}
		for k, v := range doc {
			if v == nil {
				delete(doc, k)
			}
		}
		out = append(out, record{doc: doc})
	}
	return out, errMsg, failed
}

func tooOld(d time.Duration) string {
	return fmt.Sprintf("Too old data, only last %d hours data can be ingested. Data discarded. You can adjust ingestion max time by setting the environment variable ZO_INGEST_ALLOWED_UPTO=<max_hours>", int(d.Hours()))
}

func tooFar(d time.Duration) string {
	return fmt.Sprintf("Too far data, only future %d hours data can be ingested. Data discarded. You can adjust ingestion max time by setting the environment variable ZO_INGEST_ALLOWED_IN_FUTURE=<max_hours>", int(d.Hours()))
}

// fitsColumns is check_for_schema's limit: the request's records are one
// inferred schema; unless it equals the stream's, it may have at most
// ColumnLimit fields.
func (s *Server) fitsColumns(st *stream, recs []record) bool {
	union := map[string]struct{}{}
	for _, r := range recs {
		for k := range r.doc {
			union[k] = struct{}{}
		}
	}
	if len(union) == len(st.fields) {
		same := true
		for k := range union {
			if _, ok := st.fields[k]; !ok {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return len(union) <= s.opts.ColumnLimit
}

func (s *Server) store(st *stream, recs []record) {
	for _, r := range recs {
		st.docs = append(st.docs, r.doc)
		for k := range r.doc {
			st.fields[k] = struct{}{}
		}
	}
	s.stats.Stored += len(recs)
}

// poisoned reports whether any item carries the poison field.
func (s *Server) poisoned(items []any) bool {
	for _, it := range items {
		doc, err := flatten(it, s.opts.FlattenLevel)
		if err != nil {
			continue
		}
		if _, ok := doc[s.opts.PoisonField]; ok {
			return true
		}
	}
	return false
}

func (s *Server) badRequest(w http.ResponseWriter, msg string) {
	s.stats.BadRequests++
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": msg})
}

// handleJSON is POST /api/{org}/{stream}/_json.
func (s *Server) handleJSON(w http.ResponseWriter, r *http.Request) {
	raw, readErr := body(r)
	s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			s.mu.Unlock()
		}
	}()
	s.stats.IngestRequests++
	name := FormatStreamName(r.PathValue("stream"))
	var items []any
	if readErr == nil {
		var v any
		if v, readErr = decodeJSON(raw); readErr == nil {
			if arr, ok := v.([]any); ok {
				items = arr
			} else {
				items = []any{v}
			}
		}
	}
	f := s.nextFault(len(items))
	s.stats.Faults[f.Kind]++
	if f.Kind == FaultLate {
		s.mu.Unlock()
		s.late(r)
		s.mu.Lock()
	}
	if s.preWrite(w, f) {
		return
	}
	if readErr != nil {
		s.badRequest(w, "Failed processing: "+readErr.Error())
		return
	}
	if s.poisoned(items) {
		s.badRequest(w, fmt.Sprintf("Failed processing: record has the field %q (injected malformed request)", s.opts.PoisonField))
		return
	}
	st := s.stream(r.PathValue("org"), name)
	recs, errMsg, failed := s.prepare(items)
	successful := 0
	if len(recs) > 0 && !s.fitsColumns(st, recs) {
		// write_logs fails; the handler still answers 200 with the
		// counts so far (nothing successful).
		errMsg = ""
	} else {
		k := s.toWrite(f, len(recs))
		s.store(st, recs[:k])
		switch f.Kind {
		case FaultPartialOK:
			successful, failed = k, failed+len(recs)-k
			errMsg = "injected failure"
		case FaultZeroZero:
		case FaultFalseSuccess:
			successful = len(recs)
		default:
			successful = k
		}
	}
	locked = false
	s.mu.Unlock()
	if s.postWrite(w, r, f) {
		return
	}
	status := map[string]any{"name": name, "successful": successful, "failed": failed}
	if errMsg != "" {
		status["error"] = errMsg
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 200, "status": []any{status}})
}

// bulkItem is one item of a _bulk answer.
type bulkItem struct {
	action string
	stream string
	id     string
	status int
	typ    string
	reason string
}

func (b bulkItem) MarshalJSON() ([]byte, error) {
	item := map[string]any{"_index": b.stream, "_id": b.id, "status": b.status}
	if b.status == 200 {
		item["_version"], item["result"], item["_seq_no"], item["_primary_term"] = 1, "created", 1, 1
		item["_shards"] = map[string]int{"total": 1, "successful": 1, "failed": 0}
	} else {
		item["error"] = map[string]any{"type": b.typ, "reason": b.reason, "index_uuid": "0", "shard": "1", "index": b.stream}
	}
	return json.Marshal(map[string]any{b.action: item})
}

// handleBulk is POST /api/{org}/_bulk.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) {
	raw, readErr := body(r)
	s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			s.mu.Unlock()
		}
	}()
	s.stats.IngestRequests++
	type pending struct {
		stream, action, id string
		doc                any
	}
	var docs []pending
	if readErr == nil {
		var cur *pending
		for line := range bytes.SplitSeq(raw, []byte("\n")) {
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			v, err := decodeJSON(line)
			if err != nil {
				readErr = err
				break
			}
			if cur == nil {
				m, _ := v.(map[string]any)
				for _, a := range []string{"create", "index", "update"} {
					meta, ok := m[a].(map[string]any)
					if !ok {
						continue
					}
					index, ok := meta["_index"].(string)
					if !ok {
						continue
					}
					cur = &pending{stream: FormatStreamName(index), action: a}
					if id, ok := meta["_id"].(string); ok {
						cur.id = id
					}
					break
				}
				continue // a line that is no action is skipped, as upstream
			}
			cur.doc = v
			docs = append(docs, *cur)
			cur = nil
		}
	}
	f := s.nextFault(len(docs))
	s.stats.Faults[f.Kind]++
	if f.Kind == FaultLate {
		s.mu.Unlock()
		s.late(r)
		s.mu.Lock()
	}
	if s.preWrite(w, f) {
		return
	}
	if readErr != nil {
		s.badRequest(w, "Failed processing: "+readErr.Error())
		return
	}
	items := make([]any, len(docs))
	for i, d := range docs {
		items[i] = d.doc
	}
	if s.poisoned(items) {
		s.badRequest(w, fmt.Sprintf("Failed processing: record has the field %q (injected malformed request)", s.opts.PoisonField))
		return
	}
	// Per record: _id becomes a field, then the timestamp is checked on
	// the document as sent; failures get their item at once.
	var out []bulkItem
	errorsSeen := false
	type accepted struct {
		p   pending
		rec record
	}
	byStream := map[string][]accepted{}
	var order []string
	for _, d := range docs {
		m, ok := d.doc.(map[string]any)
		if !ok {
			continue
		}
		if d.id != "" {
			m["_id"] = d.id
		}
		recs, errMsg, failed := s.prepare([]any{m})
		if failed > 0 {
			errorsSeen = true
			typ := "timestamp_parsing_failed"
			reason := typ
			if strings.HasPrefix(errMsg, "Too ") {
				reason = errMsg
			}
			out = append(out, bulkItem{action: d.action, stream: d.stream, id: d.id, status: 422, typ: typ, reason: reason})
			continue
		}
		if _, seen := byStream[d.stream]; !seen {
			order = append(order, d.stream)
		}
		byStream[d.stream] = append(byStream[d.stream], accepted{p: d, rec: recs[0]})
	}
	var all []accepted
	for _, name := range order {
		st := s.stream(r.PathValue("org"), name)
		acc := byStream[name]
		recs := make([]record, len(acc))
		for i, a := range acc {
			recs[i] = a.rec
		}
		if !s.fitsColumns(st, recs) {
			continue // write_logs fails: no items for these records
		}
		all = append(all, acc...)
	}
	k := s.toWrite(f, len(all))
	for i, a := range all {
		item := bulkItem{action: a.p.action, stream: a.p.stream, id: a.p.id, status: 200}
		switch {
		case i < k:
			s.store(s.stream(r.PathValue("org"), a.p.stream), []record{a.rec})
		case f.Kind == FaultFalseSuccess:
		case f.Kind == FaultZeroZero:
			continue
		default:
			item.status, item.typ, item.reason = 422, "schema_conformance_failed", "injected failure"
			errorsSeen = true
		}
		out = append(out, item)
	}
	locked = false
	s.mu.Unlock()
	if s.postWrite(w, r, f) {
		return
	}
	if out == nil {
		out = []bulkItem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"took": 1, "errors": errorsSeen, "items": out})
}

// searchRequest is the body of POST /api/{org}/_search.
type searchRequest struct {
	Query struct {
		SQL       string `json:"sql"`
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		From      int    `json:"from"`
		Size      *int   `json:"size"`
	} `json:"query"`
	UseCache *bool `json:"use_cache"`
}

func searchError(w http.ResponseWriter, code int, message, detail string) {
	w.Header().Set("X-Error-Message", strconv.Itoa(code))
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": code, "message": message, "error_detail": detail})
}

// handleSearch is POST /api/{org}/_search.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	raw, err := body(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.SearchRequests++
	fault := s.nextSearchFault()
	s.stats.SearchFaults[fault]++
	if fault == SearchUnavailable {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"code": 503, "message": "querier unavailable (injected)"})
		return
	}
	var req searchRequest
	if err == nil {
		err = json.Unmarshal(raw, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": err.Error()})
		return
	}
	q, err := parseSQL(req.Query.SQL)
	if err != nil {
		searchError(w, 20001, "Search SQL not valid", err.Error())
		return
	}
	st := s.streams[r.PathValue("org")+"/"+q.stream]
	if st == nil {
		searchError(w, 20002, "Search stream not found: "+q.stream, q.stream)
		return
	}
	for _, c := range q.referenced() {
		if _, ok := st.fields[c]; !ok && c != "_timestamp" {
			searchError(w, 20004, "Search field not found: "+c, c)
			return
		}
	}
	var rows []map[string]any
	for _, d := range st.docs {
		ts, err := strconv.ParseInt(fmt.Sprint(d["_timestamp"]), 10, 64)
		if err != nil || ts < req.Query.StartTime || (req.Query.EndTime > 0 && ts >= req.Query.EndTime) {
			continue
		}
		ok := true
		for _, c := range q.where {
			if !c.match(d) {
				ok = false
				break
			}
		}
		if ok {
			rows = append(rows, d)
		}
	}
	if len(q.order) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			for _, o := range q.order {
				a, aok := rows[i][o.column]
				b, bok := rows[j][o.column]
				if !aok || !bok {
					if aok != bok {
						return aok // NULLs last
					}
					continue
				}
				c, _ := compare(a, b)
				if c != 0 {
					return (c < 0) != o.desc
				}
			}
			return false
		})
	}
	total := len(rows)
	size := 1000 // ZO_QUERY_DEFAULT_LIMIT
	if req.Query.Size != nil && *req.Query.Size >= 0 {
		size = *req.Query.Size
	}
	if q.limit >= 0 {
		size = min(size, q.limit)
	}
	from := max(req.Query.From, 0)
	rows = rows[min(from, len(rows)):]
	rows = rows[:min(size, len(rows))]
	hits := make([]map[string]any, 0, len(rows))
	for _, d := range rows {
		if fault == SearchPartial && s.rng.IntN(2) == 0 {
			continue // a querier that did not answer
		}
		if q.columns == nil {
			hits = append(hits, d)
			continue
		}
		h := map[string]any{}
		for _, c := range q.columns {
			if v, ok := d[c]; ok {
				h[c] = v
			}
		}
		hits = append(hits, h)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"took": 1, "took_detail": map[string]int{"total": 1}, "hits": hits, "total": total,
		"from": from, "size": size, "cached_ratio": 0, "scan_size": 0, "idx_scan_size": 0,
		"scan_records": len(st.docs), "is_partial": fault == SearchPartial, "result_cache_ratio": 0,
	})
}

// handleStreams is GET /api/{org}/streams.
func (s *Server) handleStreams(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.StreamRequests++
	org := r.PathValue("org")
	list := []any{}
	var names []string
	for _, st := range s.streams {
		if st.org == org {
			names = append(names, st.name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		st := s.streams[org+"/"+n]
		list = append(list, map[string]any{"name": n, "storage_type": "disk", "stream_type": "logs",
			"stats": map[string]any{"doc_num": len(st.docs)}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"list": list})
}
