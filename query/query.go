// Package query answers interactive queries over the pipeline's window
// state, as Kafka Streams' interactive queries do: goka Views read the
// errorrate stage's table (per-host window panes) and the alerter's table
// (open incidents) from every partition, so any process can ask for the
// current per-host error rates and open alerts, whichever partitions its
// stages own, or none.
//
//	h, _ := query.New(brokers, set, windows, query.Options{})
//	go h.Run(ctx)
//	h.WaitRecovered(ctx)
//	res, _ := h.Top(10)
//
// Handler serves the same result as JSON (GET /query/hosts?top=N, or
// ?host=NAME for one host and its alerts: the link a page carries).
package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// Path is where Handler is mounted on the admin port.
const Path = "/query/hosts"

// DefaultTop is the number of hosts of a query that names none; MaxTop
// the most a query may ask for.
const (
	DefaultTop = 10
	MaxTop     = 10000
)

// ErrNotReady is returned by Top while the views are not running or have
// not read their tables to the end yet.
var ErrNotReady = errors.New("query: the window state is still being read from Kafka")

// Options tune the views; zero values are defaults.
type Options struct {
	// Tuning is the sarama configuration's (broker.SaramaConfig).
	Tuning broker.Tuning
	// ClientID prefixes the views' client ids; "" = "logstream-query".
	ClientID string
	// Storage keeps the views' copies of the tables; nil keeps them in
	// memory (state.Memory), rebuilt from Kafka at every start.
	Storage storage.Builder
	// Logger gets goka's messages at debug level; the zero value drops them.
	Logger zerolog.Logger
}

// Result is the answer to a query: the hosts with the worst current error
// rate, and every open alert.
type Result struct {
	// Hosts, worst error rate of the current tumbling window first (ties
	// by host name); at most the number asked for.
	Hosts []HostRate `json:"hosts"`
	// TotalHosts is the number of hosts with a current window.
	TotalHosts int `json:"total_hosts"`
	// Alerts are the incidents firing or resolving, firing first, then
	// oldest first.
	Alerts []OpenAlert `json:"alerts"`
	// Undecodable counts table records that did not decode (skipped).
	Undecodable int `json:"undecodable,omitempty"`
	// Watermark is the fleet's event-time progress as the alerter last
	// judged it: a pipeline that fell behind, or whose input stopped,
	// shows here (a stopped input pages nobody).
	Watermark *Watermark `json:"watermark,omitempty"`
}

// Watermark is the alerter's view of event time.
type Watermark struct {
	// At is the fleet's watermark (ms since epoch): every tick before it
	// has been judged.
	At int64 `json:"at"`
	// LagSeconds is the wall clock minus At.
	LagSeconds float64 `json:"lag_seconds"`
	// Status is time (moving), idle (every input idle: the pipeline's
	// input stopped) or hold (an input has not been heard yet).
	Status string `json:"status"`
	// Partitions of the errorrate stage by status.
	Active  int `json:"active"`
	Idle    int `json:"idle"`
	Holding int `json:"holding"`
}

// HostRate is a host's current tumbling window (the one holding its latest
// event) and its current hopping window.
type HostRate struct {
	Host        string   `json:"host"`
	WindowStart int64    `json:"window_start"` // ms since epoch
	WindowEnd   int64    `json:"window_end"`
	Events      int64    `json:"events"`
	Errors      int64    `json:"errors"`
	ErrorRate   float64  `json:"error_rate"` // errors/events, 0..1
	LatencyP50  *float64 `json:"latency_p50_ms,omitempty"`
	LatencyP95  *float64 `json:"latency_p95_ms,omitempty"`
	LatencyP99  *float64 `json:"latency_p99_ms,omitempty"`
	// TopSignature is the window's most frequent error signature.
	TopSignature      string `json:"top_signature,omitempty"`
	TopSignatureCount int64  `json:"top_signature_count,omitempty"`
	// AsOf is the event time of the host's latest events (ms, to the tick).
	AsOf int64 `json:"as_of"`
	// Silent: the alerter judges the host silent (its watermark moved on
	// by host_silent.after while the host sent nothing).
	Silent bool `json:"silent,omitempty"`
	// Hopping is the current hopping window, when hopping windows are on.
	Hopping *Window `json:"hopping,omitempty"`
}

// Window is a window's counts.
type Window struct {
	Start     int64   `json:"start"`
	End       int64   `json:"end"`
	Events    int64   `json:"events"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
}

// OpenAlert is an incident that fired and has not resolved.
type OpenAlert struct {
	Key       string   `json:"key"`
	Scope     string   `json:"scope"`
	Host      string   `json:"host,omitempty"`
	Rule      string   `json:"rule"`
	Rules     []string `json:"rules"`
	State     string   `json:"state"` // firing or resolving
	Since     int64    `json:"since"` // ms since epoch
	FirstSeen int64    `json:"first_seen"`
	LastSeen  int64    `json:"last_seen"`
	Number    int64    `json:"number"`
}

// Hosts reads both tables through goka Views.
type Hosts struct {
	windows errorrate.Windows
	rates   *goka.View
	alerts  *goka.View

	cmu     sync.Mutex
	closers []io.Closer // sarama clients the views made (goka never closes them)
	closed  bool

	mu      sync.RWMutex // held for reading while a query reads the views
	started bool
	stopped bool
	done    chan struct{}
	runErr  error
}

// New builds the views of the errorrate and alerter tables on brokers.
// The tables must exist (the pipeline creates them). Nothing is read until
// Run.
func New(brokers []string, set *codecs.Set, windows errorrate.Windows, opts Options) (*Hosts, error) {
	if len(brokers) == 0 {
		return nil, errors.New("query: no brokers")
	}
	if set == nil {
		return nil, errors.New("query: no codecs")
	}
	if windows == (errorrate.Windows{}) {
		windows = errorrate.DefaultWindows()
	}
	if err := windows.Validate(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if opts.ClientID == "" {
		opts.ClientID = "logstream-query"
	}
	if opts.Storage == nil {
		opts.Storage = state.Memory()
	}
	h := &Hosts{windows: windows, done: make(chan struct{})}
	var err error
	if h.rates, err = h.view(brokers, topology.TableTopic(topology.GroupErrorRate),
		errorrate.TableCodec{State: set.ErrorRatePartition, Legacy: set.ErrorRateState}, opts); err != nil {
		h.Close()
		return nil, err
	}
	if h.alerts, err = h.view(brokers, topology.TableTopic(topology.GroupAlerter), set.AlerterState, opts); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Hosts) view(brokers []string, table string, codec goka.Codec, o Options) (*goka.View, error) {
	t := o.Tuning
	v, err := goka.NewView(brokers, goka.Table(table), codec,
		goka.WithViewClientID(o.ClientID+"-"+table),
		goka.WithViewStorageBuilder(o.Storage),
		goka.WithViewConsumerSaramaBuilder(func(brokers []string, clientID string) (sarama.Consumer, error) {
			cfg := broker.SaramaConfig(t)
			cfg.ClientID = clientID
			c, err := sarama.NewConsumer(brokers, cfg)
			if err == nil {
				h.track(c)
			}
			return c, err
		}),
		goka.WithViewTopicManagerBuilder(func(brokers []string) (goka.TopicManager, error) {
			tm, err := broker.TopicManagerBuilder(t)(brokers)
			if err == nil {
				h.track(tm)
			}
			return tm, err
		}),
		goka.WithViewLogger(gokaLogger{o.Logger.With().Str("view", table).Logger()}),
		// A broker that goes away for a while does not end the view.
		goka.WithViewAutoReconnect(),
	)
	if err != nil {
		return nil, fmt.Errorf("query: view of table %s: %w", table, err)
	}
	return v, nil
}

func (h *Hosts) track(c io.Closer) {
	h.cmu.Lock()
	defer h.cmu.Unlock()
	if h.closed {
		c.Close()
		return
	}
	h.closers = append(h.closers, c)
}

// Close releases the views' Kafka clients. Run calls it when it returns;
// call it when Run is never called. It may be called more than once.
func (h *Hosts) Close() {
	h.cmu.Lock()
	cs := h.closers
	h.closers, h.closed = nil, true
	h.cmu.Unlock()
	for _, c := range cs {
		c.Close() // a topic manager goka closed already says so; nothing to do
	}
}

// Run reads both tables until ctx ends (it returns nil) or a view fails.
// Queries answer once both views have read their tables to the end.
func (h *Hosts) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("query: Run called twice")
	}
	h.started = true
	h.mu.Unlock()
	defer h.Close()

	vctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eg, gctx := errgroup.WithContext(vctx)
	for _, v := range []*goka.View{h.rates, h.alerts} {
		eg.Go(func() error { return v.Run(gctx) })
	}
	// Queries stop before the views close their stores: a view drops its
	// partitions when it stops, under no lock a reader could take.
	go func() {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		h.mu.Lock()
		h.stopped = true
		h.mu.Unlock()
		cancel()
	}()
	err := eg.Wait()
	h.mu.Lock()
	h.stopped, h.runErr = true, err
	h.mu.Unlock()
	close(h.done)
	return err
}

// Recovered reports whether both views run and have read their tables to
// the end.
func (h *Hosts) Recovered() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.recovered()
}

func (h *Hosts) recovered() bool {
	return h.started && !h.stopped && h.rates.Recovered() && h.alerts.Recovered()
}

// WaitRecovered blocks until Recovered, Run returns, or ctx ends.
func (h *Hosts) WaitRecovered(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !h.Recovered() {
		select {
		case <-h.done:
			if h.runErr != nil {
				return fmt.Errorf("query: stopped before the tables were read: %w", h.runErr)
			}
			return errors.New("query: stopped before the tables were read")
		case <-ctx.Done():
			return fmt.Errorf("query: tables not read yet (%s: %s, %s: %s): %w",
				h.rates.Topic(), stateName(h.rates.CurrentState()), h.alerts.Topic(), stateName(h.alerts.CurrentState()), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func stateName(s goka.ViewState) string {
	switch s {
	case goka.ViewStateIdle:
		return "idle"
	case goka.ViewStateInitializing:
		return "initializing"
	case goka.ViewStateConnecting:
		return "connecting"
	case goka.ViewStateCatchUp:
		return "catching up"
	case goka.ViewStateRunning:
		return "running"
	}
	return strconv.Itoa(int(s))
}

// Top returns the n hosts with the worst current error rate (every host
// when n <= 0) and every open alert. It returns ErrNotReady until the
// views have read their tables.
func (h *Hosts) Top(n int) (Result, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.recovered() {
		return Result{}, ErrNotReady
	}
	res := Result{Hosts: []HostRate{}, Alerts: []OpenAlert{}}
	if err := h.readRates(&res); err != nil {
		return Result{}, err
	}
	silent, err := h.readAlerts(&res)
	if err != nil {
		return Result{}, err
	}
	for i := range res.Hosts {
		res.Hosts[i].Silent = silent[res.Hosts[i].Host]
	}
	sort.Slice(res.Hosts, func(i, j int) bool {
		a, b := res.Hosts[i], res.Hosts[j]
		if a.ErrorRate != b.ErrorRate {
			return a.ErrorRate > b.ErrorRate
		}
		return a.Host < b.Host
	})
	res.TotalHosts = len(res.Hosts)
	if n > 0 && len(res.Hosts) > n {
		res.Hosts = res.Hosts[:n]
	}
	sort.Slice(res.Alerts, func(i, j int) bool {
		a, b := res.Alerts[i], res.Alerts[j]
		if (a.State == schemas.IncidentFiring) != (b.State == schemas.IncidentFiring) {
			return a.State == schemas.IncidentFiring
		}
		if a.Since != b.Since {
			return a.Since < b.Since
		}
		return a.Key < b.Key
	})
	return res, nil
}

func (h *Hosts) readRates(res *Result) error {
	it, err := h.rates.Iterator()
	if err != nil {
		return fmt.Errorf("query: %s: %w", h.rates.Topic(), err)
	}
	defer it.Release()
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			res.Undecodable++
			continue
		}
		// A partition's state holds its hosts; values of the previous
		// version (per host) were read into them at the upgrade.
		st, _ := v.(*schemas.ErrorRatePartition)
		if st == nil {
			continue
		}
		for i := range st.Hosts {
			if hr, ok := h.hostRate(&st.Hosts[i]); ok {
				res.Hosts = append(res.Hosts, hr)
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("query: %s: %w", h.rates.Topic(), err)
	}
	return nil
}

// hostRate renders a host's state as its current windows; false when the
// host has no window (no event counted yet).
func (h *Hosts) hostRate(st *schemas.PartitionHost) (HostRate, bool) {
	hr := HostRate{Host: st.Host, AsOf: st.LastEvent}
	found := false
	for _, w := range errorrate.CurrentWindows(h.windows, st, 1, 0) {
		switch w.Kind {
		case schemas.WindowTumbling:
			found = true
			hr.WindowStart, hr.WindowEnd = w.Start, w.End
			hr.Events, hr.Errors, hr.ErrorRate = w.Events, w.Errors, w.ErrorRate
			hr.LatencyP50, hr.LatencyP95, hr.LatencyP99 = w.LatencyP50, w.LatencyP95, w.LatencyP99
			if len(w.Signatures) > 0 {
				hr.TopSignature, hr.TopSignatureCount = w.Signatures[0].Signature, w.Signatures[0].Count
			}
		case schemas.WindowHopping:
			hr.Hopping = &Window{Start: w.Start, End: w.End, Events: w.Events, Errors: w.Errors, ErrorRate: w.ErrorRate}
		}
	}
	return hr, found
}

func (h *Hosts) readAlerts(res *Result) (silent map[string]bool, err error) {
	it, err := h.alerts.Iterator()
	if err != nil {
		return nil, fmt.Errorf("query: %s: %w", h.alerts.Topic(), err)
	}
	defer it.Release()
	silent = map[string]bool{}
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			res.Undecodable++
			continue
		}
		st, _ := v.(*schemas.AlerterState)
		if st == nil {
			continue
		}
		for _, hv := range st.Hosts {
			silent[hv.Host] = hv.Silent
		}
		if len(st.Watermark.Channels) > 0 {
			wm, kind, active, idle, holding := alerter.FleetWatermark(st, int32(len(st.Watermark.Channels)))
			res.Watermark = &Watermark{At: wm, Status: kind.String(), Active: active, Idle: idle, Holding: holding}
			if wm > 0 {
				res.Watermark.LagSeconds = time.Since(time.UnixMilli(wm)).Seconds()
			}
		}
		for _, inc := range alerter.OpenIncidents(st) {
			res.Alerts = append(res.Alerts, OpenAlert{
				Key: inc.Key, Scope: inc.Scope, Host: inc.Host, Rule: inc.Rule, Rules: append([]string{}, inc.Rules...),
				State: inc.State, Since: inc.Since, FirstSeen: inc.FirstSeen, LastSeen: inc.LastSeen, Number: inc.Number,
			})
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("query: %s: %w", h.alerts.Topic(), err)
	}
	return silent, nil
}

// ForHost returns r with only host's window and host's alerts. TotalHosts
// still counts every host, so that a reader sees how many there are.
func (r Result) ForHost(host string) Result {
	out := r
	out.Hosts = []HostRate{}
	for _, hr := range r.Hosts {
		if hr.Host == host {
			out.Hosts = append(out.Hosts, hr)
		}
	}
	out.Alerts = []OpenAlert{}
	for _, a := range r.Alerts {
		if a.Host == host {
			out.Alerts = append(out.Alerts, a)
		}
	}
	return out
}

// Handler serves GET ?top=N (default DefaultTop, 1 to MaxTop) with the
// Result as JSON: 400 for a bad top, 503 while the tables are being read.
// ?host=NAME answers for that host only (Result.ForHost), wherever it
// ranks; an empty host is no filter, so that a link made for a fleet-wide
// alert shows every host.
func (h *Hosts) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed: use GET")
			return
		}
		n, err := ParseTop(r.URL.Query().Get("top"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		host := r.URL.Query().Get("host")
		if host != "" {
			n = 0 // every host, then the one asked for
		}
		res, err := h.Top(n)
		if err == nil && host != "" {
			res = res.ForHost(host)
		}
		if errors.Is(err, ErrNotReady) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
}

// ParseTop parses the top parameter: empty is DefaultTop, else an integer
// from 1 to MaxTop.
func ParseTop(s string) (int, error) {
	if s == "" {
		return DefaultTop, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxTop {
		return 0, fmt.Errorf("top: %q is not an integer between 1 and %d", s, MaxTop)
	}
	return n, nil
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// gokaLogger sends goka's chatter to debug level.
type gokaLogger struct{ l zerolog.Logger }

func (g gokaLogger) Print(v ...any)                 { g.l.Debug().Msg(fmt.Sprint(v...)) }
func (g gokaLogger) Println(v ...any)               { g.l.Debug().Msg(fmt.Sprint(v...)) }
func (g gokaLogger) Printf(format string, v ...any) { g.l.Debug().Msgf(format, v...) }
