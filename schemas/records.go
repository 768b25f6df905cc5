package schemas

// Level is LogEvent.level. The zero value is LevelUnknown.
type Level int8

// Levels in the order of the Avro enum's symbols.
const (
	LevelUnknown Level = iota
	LevelTrace
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

var levelNames = [...]string{"UNKNOWN", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// String returns the Avro enum symbol.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "UNKNOWN"
	}
	return levelNames[l]
}

// ParseLevel maps an Avro enum symbol back to a Level; unknown symbols are
// LevelUnknown (the enum's default).
func ParseLevel(s string) Level {
	for i, n := range levelNames {
		if n == s {
			return Level(i)
		}
	}
	return LevelUnknown
}

// SpanStatus is Span.status.
type SpanStatus int8

// Span statuses in the order of the Avro enum's symbols.
const (
	SpanUnset SpanStatus = iota
	SpanOK
	SpanError
)

var spanStatusNames = [...]string{"UNSET", "OK", "ERROR"}

// String returns the Avro enum symbol.
func (s SpanStatus) String() string {
	if s < 0 || int(s) >= len(spanStatusNames) {
		return "UNSET"
	}
	return spanStatusNames[s]
}

// ParseSpanStatus maps an Avro enum symbol back to a SpanStatus.
func ParseSpanStatus(s string) SpanStatus {
	for i, n := range spanStatusNames {
		if n == s {
			return SpanStatus(i)
		}
	}
	return SpanUnset
}

// RawLog mirrors the latest version in rawlog/.
type RawLog struct {
	Host       string            `json:"host"`
	Source     string            `json:"source"`
	Line       string            `json:"line"`
	ReceivedAt int64             `json:"received_at"` // ms since epoch
	Labels     map[string]string `json:"labels,omitempty"`
}

// LogEvent mirrors the latest version in logevent/. Optional fields are pointers: nil is Avro null.
type LogEvent struct {
	EventID      string            `json:"event_id"`
	Timestamp    int64             `json:"timestamp"` // ms since epoch
	Host         string            `json:"host"`
	Service      string            `json:"service"`
	Level        Level             `json:"level"`
	Message      string            `json:"message"`
	TraceID      *string           `json:"trace_id,omitempty"`
	SpanID       *string           `json:"span_id,omitempty"`
	HTTPStatus   *int32            `json:"http_status,omitempty"`
	LatencyMs    *float64          `json:"latency_ms,omitempty"`
	K8sNamespace *string           `json:"k8s_namespace,omitempty"`
	K8sPod       *string           `json:"k8s_pod,omitempty"`
	K8sContainer *string           `json:"k8s_container,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	ParseError   *string           `json:"parse_error,omitempty"`
	Source       string            `json:"source"`
	Format       string            `json:"format"`
	Cluster      string            `json:"cluster"` // since v2
	// Since v4: the continuation lines of a multi-line event (a stack
	// trace), and how many values masking replaced.
	Stack  *string `json:"stack,omitempty"`
	Masked int32   `json:"masked,omitempty"`

	// Set by the trace join (since v3); zero before it.
	SpanService    string `json:"span_service,omitempty"`
	SpanOperation  string `json:"span_operation,omitempty"`
	SpanDurationUs *int64 `json:"span_duration_us,omitempty"`
	SpanStatus     string `json:"span_status,omitempty"`
	RootOperation  string `json:"root_operation,omitempty"`
	JoinStatus     string `json:"join_status,omitempty"`
}

// LogEvent.JoinStatus values.
const (
	JoinJoined  = "joined"   // the event's span was found
	JoinTimeout = "timeout"  // no span within the join window
	JoinNoTrace = "no_trace" // the event has no (valid) trace id
)

// Span mirrors the latest version in span/.
type Span struct {
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID *string           `json:"parent_span_id,omitempty"`
	Service      string            `json:"service"`
	Operation    string            `json:"operation"`
	Start        int64             `json:"start"` // µs since epoch
	DurationUs   int64             `json:"duration_us"`
	Status       SpanStatus        `json:"status"`
	Host         string            `json:"host"`
	Attributes   map[string]string `json:"attributes,omitempty"`
}

// DeadLetter mirrors the latest version in deadletter/.
type DeadLetter struct {
	OriginalKey     []byte `json:"original_key,omitempty"`
	OriginalValue   []byte `json:"original_value"`
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	Stage           string `json:"stage"`
	Error           string `json:"error"`
	Time            int64  `json:"time"` // ms since epoch
}

// MarshalText lets Level appear as its symbol in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// MarshalText lets SpanStatus appear as its symbol in JSON.
func (s SpanStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseState mirrors the latest version in parsestate/: the parse stage's per-host state.
type ParseState struct {
	Pending map[string]PendingLine  `json:"pending"`
	Events  map[string]PendingEvent `json:"events"` // since v2
}

// PendingLine mirrors the latest version in parsestate/'s PendingLine.
type PendingLine struct {
	Stream     string `json:"stream"`
	Time       int64  `json:"time"` // ms since epoch
	Content    string `json:"content"`
	Parts      int32  `json:"parts"`
	LastOffset int64  `json:"last_offset"`
	Updated    int64  `json:"updated"` // since v2: wall clock, ms
	Mark       int64  `json:"mark"`    // since v2: -1, or the sweep's decision to emit
	Masked     int32  `json:"masked"`  // since v2: values masked in Content
}

// PendingEvent mirrors parsestate/'s PendingEvent (since v2): a multi-line
// event being assembled.
type PendingEvent struct {
	Line       string            `json:"line"`
	ReceivedAt int64             `json:"received_at"` // ms since epoch
	Labels     map[string]string `json:"labels"`
	Stack      string            `json:"stack"`
	Lines      int32             `json:"lines"`
	LastOffset int64             `json:"last_offset"`
	Updated    int64             `json:"updated"` // wall clock, ms
	Mark       int64             `json:"mark"`
	Masked     int32             `json:"masked"`
}

// DedupeState mirrors the latest version in dedupestate/: the dedupe stage's
// per-event-id state.
type DedupeState struct {
	FirstTopic      string `json:"first_topic"`
	FirstOffset     int64  `json:"first_offset"`
	FirstSeen       int64  `json:"first_seen"` // ms since epoch
	LastInputOffset int64  `json:"last_input_offset"`
	LastLoopOffset  int64  `json:"last_loop_offset"`
}

// TraceState mirrors the latest version in tracestate/: the trace join's
// per-trace-id state.
type TraceState struct {
	Spans        []SpanRef   `json:"spans"`
	Events       []HeldEvent `json:"events"`
	LastActivity int64       `json:"last_activity"` // ms since epoch
	AppliedSpans int64       `json:"applied_spans"`
	AppliedLoop  int64       `json:"applied_loop"`
}

// SpanRef mirrors tracestate/'s SpanRef.
type SpanRef struct {
	SpanID       string  `json:"span_id"`
	ParentSpanID *string `json:"parent_span_id,omitempty"`
	Service      string  `json:"service"`
	Operation    string  `json:"operation"`
	DurationUs   int64   `json:"duration_us"`
	Status       string  `json:"status"`
	End          int64   `json:"end"` // ms since epoch
}

// HeldEvent mirrors tracestate/'s HeldEvent.
type HeldEvent struct {
	EventID       string `json:"event_id"`
	Timestamp     int64  `json:"timestamp"` // ms since epoch
	Value         []byte `json:"value"`
	EmittedTopic  string `json:"emitted_topic"`
	EmittedOffset int64  `json:"emitted_offset"`
}

// HostWindow mirrors the latest version in hostwindow/: one host's error
// rate over one event-time window.
type HostWindow struct {
	Host         string        `json:"host"`
	Kind         string        `json:"kind"`  // WindowTumbling or WindowHopping
	Start        int64         `json:"start"` // ms since epoch
	End          int64         `json:"end"`
	Emit         string        `json:"emit"` // EmitUpdate, EmitFinal or EmitSilent
	Version      int64         `json:"version"`
	AsOf         int64         `json:"as_of"`
	Events       int64         `json:"events"`
	Errors       int64         `json:"errors"`
	ErrorRate    float64       `json:"error_rate"`
	LatencyCount int64         `json:"latency_count"`
	LatencyP50   *float64      `json:"latency_p50_ms,omitempty"`
	LatencyP95   *float64      `json:"latency_p95_ms,omitempty"`
	LatencyP99   *float64      `json:"latency_p99_ms,omitempty"`
	FirstError   *int64        `json:"first_error,omitempty"`
	Signatures   []Signature   `json:"signatures"`
	Samples      []TraceSample `json:"samples"`
}

// HostWindow.Kind and HostWindow.Emit values.
const (
	WindowTumbling = "tumbling"
	WindowHopping  = "hopping"
	EmitUpdate     = "update"
	EmitFinal      = "final"
	EmitSilent     = "silent"
)

// Signature mirrors hostwindow/'s and alert/'s Signature.
type Signature struct {
	Signature string `json:"signature"`
	Count     int64  `json:"count"`
	Example   string `json:"example"`
}

// TraceSample mirrors hostwindow/'s and alert/'s TraceSample.
type TraceSample struct {
	TraceID        string `json:"trace_id"`
	EventID        string `json:"event_id"`
	Timestamp      int64  `json:"timestamp"`
	Message        string `json:"message"`
	SpanService    string `json:"span_service,omitempty"`
	SpanOperation  string `json:"span_operation,omitempty"`
	SpanDurationUs *int64 `json:"span_duration_us,omitempty"`
}

// Alert mirrors the latest version in alert/: an incident's change of state.
type Alert struct {
	ID          string        `json:"id"`
	DedupKey    string        `json:"dedup_key"`
	State       string        `json:"state"` // AlertFiring or AlertResolved
	Scope       string        `json:"scope"` // ScopeHost, ScopeFleet or ScopeSilent
	Host        string        `json:"host"`
	Rule        string        `json:"rule"`
	Rules       []string      `json:"rules"`
	Summary     string        `json:"summary"`
	Rate        float64       `json:"rate"`
	FleetRate   float64       `json:"fleet_rate"`
	BurnRate    *float64      `json:"burn_rate,omitempty"`
	Events      int64         `json:"events"`
	Errors      int64         `json:"errors"`
	WindowStart int64         `json:"window_start"`
	WindowEnd   int64         `json:"window_end"`
	Signatures  []Signature   `json:"signatures"`
	Samples     []TraceSample `json:"samples"`
	FirstSeen   int64         `json:"first_seen"`
	LastSeen    int64         `json:"last_seen"`
	At          int64         `json:"at"`
}

// Alert.State and Alert.Scope values.
const (
	AlertFiring   = "FIRING"
	AlertResolved = "RESOLVED"
	ScopeHost     = "host"
	ScopeFleet    = "fleet"
	ScopeSilent   = "silent"
)

// ErrorRateState mirrors the latest version in errorratestate/: the
// errorrate stage's per-host state.
type ErrorRateState struct {
	Applied        int64   `json:"applied"`
	StreamTime     int64   `json:"stream_time"`
	LastSeen       int64   `json:"last_seen"`
	Version        int64   `json:"version"`
	LastUpdate     int64   `json:"last_update"`
	UpdateOffset   int64   `json:"update_offset"`
	Dirty          bool    `json:"dirty"`
	TumblingClosed int64   `json:"tumbling_closed"`
	HoppingClosed  int64   `json:"hopping_closed"`
	Late           int64   `json:"late"`
	Recent         []int64 `json:"recent"`
	Silent         bool    `json:"silent"`
	Committed      int64   `json:"committed"`
	// Sources maps each partition of logs.unique to the highest offset
	// applied from it (Avro map keys are decimal strings).
	Sources map[int32]int64 `json:"sources"`
	Panes   []Pane          `json:"panes"`
	Emits   []Emit          `json:"emits"`
}

// Pane mirrors errorratestate/'s Pane.
type Pane struct {
	Start      int64            `json:"start"`
	Events     int64            `json:"events"`
	Errors     int64            `json:"errors"`
	FirstError int64            `json:"first_error"`
	Latency    map[int32]int64  `json:"latency"` // sketch bucket index to count (Avro map keys are decimal strings)
	Signatures []SignatureCount `json:"signatures"`
	Samples    []Sample         `json:"samples"`
}

// SignatureCount mirrors errorratestate/'s SignatureCount.
type SignatureCount struct {
	Signature string `json:"signature"`
	Count     int64  `json:"count"`
	Example   string `json:"example"`
}

// Sample mirrors errorratestate/'s Sample (SpanDurationUs -1: none).
type Sample struct {
	TraceID        string `json:"trace_id"`
	EventID        string `json:"event_id"`
	Timestamp      int64  `json:"timestamp"`
	Message        string `json:"message"`
	SpanService    string `json:"span_service"`
	SpanOperation  string `json:"span_operation"`
	SpanDurationUs int64  `json:"span_duration_us"`
}

// Emit mirrors errorratestate/'s and alerterstate/'s Emit: a record a
// stage wrote, kept so that a replay of its source writes it again.
type Emit struct {
	Offset int64  `json:"offset"`
	Value  []byte `json:"value"`
}

// AlerterState mirrors the latest version in alerterstate/: the alerter's
// per-fleet state.
type AlerterState struct {
	Applied   int64          `json:"applied"`
	Seq       int64          `json:"seq"`
	Hosts     []HostView     `json:"hosts"`
	Watermark WatermarkState `json:"watermark"`
	Tick      int64          `json:"tick"`
	TickMs    int64          `json:"tick_ms"`
	WindowMs  int64          `json:"window_ms"`
	// Sources maps each errorrate partition to the last WindowUpdate.seq
	// applied from it (Avro map keys are decimal strings).
	Sources   map[int32]int64 `json:"sources"`
	Incidents []Incident      `json:"incidents"`
	Emits     []Emit          `json:"emits"`
}

// HostView mirrors alerterstate/'s HostView.
type HostView struct {
	Host      string      `json:"host"`
	Version   int64       `json:"version"`
	AsOf      int64       `json:"as_of"`
	Silent    bool        `json:"silent"`
	TStart    int64       `json:"t_start"`
	TEvents   int64       `json:"t_events"`
	TErrors   int64       `json:"t_errors"`
	Latest    []byte      `json:"latest"`
	Minutes   []Minute    `json:"minutes"`
	Pending   []TickCount `json:"pending"`
	LastEvent int64       `json:"last_event"`
}

// Minute mirrors alerterstate/'s Minute: one tumbling window's counts.
type Minute struct {
	Start  int64 `json:"start"`
	Events int64 `json:"events"`
	Errors int64 `json:"errors"`
}

// Incident mirrors alerterstate/'s Incident.
type Incident struct {
	Key       string   `json:"key"`
	Scope     string   `json:"scope"`
	Host      string   `json:"host"`
	Rule      string   `json:"rule"`
	Rules     []string `json:"rules"`
	State     string   `json:"state"` // IncidentPending, IncidentFiring or IncidentResolving
	Since     int64    `json:"since"`
	FirstSeen int64    `json:"first_seen"`
	LastSeen  int64    `json:"last_seen"`
	Number    int64    `json:"number"`
	Fired     []byte   `json:"fired"`
}

// Incident.State values.
const (
	IncidentPending   = "pending"
	IncidentFiring    = "firing"
	IncidentResolving = "resolving"
)

// TickCount mirrors the TickCount of errorratepartial/, errorratepartition/,
// windowupdate/ and alerterstate/: one tick's events and errors.
type TickCount struct {
	Start  int64 `json:"start"`
	Events int64 `json:"events"`
	Errors int64 `json:"errors"`
}

// ErrorRatePartial mirrors the latest version in errorratepartial/: what
// one transaction of the errorrate combine hop counted for the hosts of
// one partition.
type ErrorRatePartial struct {
	Hosts []PartialHost `json:"hosts"`
}

// PartialHost mirrors errorratepartial/'s PartialHost.
type PartialHost struct {
	Host   string        `json:"host"`
	Ticks  []TickCount   `json:"ticks"`
	Panes  []PartialPane `json:"panes"`
	Future int64         `json:"future"`
}

// PartialPane mirrors errorratepartial/'s PartialPane.
type PartialPane struct {
	Start      int64            `json:"start"`
	FirstError int64            `json:"first_error"`
	Latency    []byte           `json:"latency"`
	Signatures []SignatureCount `json:"signatures"`
	Samples    []Sample         `json:"samples"`
}

// ErrorRatePartition mirrors the latest version in errorratepartition/:
// the errorrate stage's state of one partition.
type ErrorRatePartition struct {
	Applied     int64           `json:"applied"`
	AppliedLoop int64           `json:"applied_loop"`
	Watermark   WatermarkState  `json:"watermark"`
	SentTick    int64           `json:"sent_tick"`
	Seq         int64           `json:"seq"`
	Status      string          `json:"status"`
	StatusAt    int64           `json:"status_at"`
	Late        int64           `json:"late"`
	Future      int64           `json:"future"`
	LateSamples int64           `json:"late_samples"`
	Migrated    bool            `json:"migrated"`
	Hosts       []PartitionHost `json:"hosts"`
	Emits       []PartitionEmit `json:"emits"`
}

// WatermarkState mirrors the WatermarkState of errorratepartition/ and
// alerterstate/: a watermark tracker's channels.
type WatermarkState struct {
	Channels  []WatermarkChannel `json:"channels"`
	Groups    []string           `json:"groups"`
	Watermark int64              `json:"watermark"`
	WokeAt    int64              `json:"woke_at"`
}

// WatermarkChannel mirrors WatermarkState's channel record.
type WatermarkChannel struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	Time    int64  `json:"time"`
	Seq     int64  `json:"seq"`
	Local   bool   `json:"local"`
}

// PartitionHost mirrors errorratepartition/'s PartitionHost.
type PartitionHost struct {
	Host           string          `json:"host"`
	Version        int64           `json:"version"`
	TumblingClosed int64           `json:"tumbling_closed"`
	HoppingClosed  int64           `json:"hopping_closed"`
	LastEvent      int64           `json:"last_event"`
	Late           int64           `json:"late"`
	Dirty          bool            `json:"dirty"`
	Panes          []PartitionPane `json:"panes"`
	Ticks          []TickCount     `json:"ticks"`
	// Sources: highest logs.unique offset applied per partition, for events
	// the previous version re-keyed (Avro map keys are decimal strings).
	Sources map[int32]int64 `json:"sources"`
}

// PartitionPane mirrors errorratepartition/'s PartitionPane.
type PartitionPane struct {
	Start      int64            `json:"start"`
	Events     int64            `json:"events"`
	Errors     int64            `json:"errors"`
	FirstError int64            `json:"first_error"`
	Latency    []byte           `json:"latency"`
	Signatures []SignatureCount `json:"signatures"`
	Samples    []Sample         `json:"samples"`
}

// PartitionEmit mirrors errorratepartition/'s PartitionEmit.
type PartitionEmit struct {
	Input  string `json:"input"`
	Offset int64  `json:"offset"`
	Topic  string `json:"topic"`
	Key    string `json:"key"`
	Value  []byte `json:"value"`
}

// WindowUpdate mirrors the latest version in windowupdate/: one errorrate
// partition's progress for the alerter.
type WindowUpdate struct {
	Partition int32       `json:"partition"`
	Seq       int64       `json:"seq"`
	Watermark int64       `json:"watermark"`
	Status    string      `json:"status"`
	TickMs    int64       `json:"tick_ms"`
	WindowMs  int64       `json:"window_ms"`
	Hosts     []HostTicks `json:"hosts"`
}

// HostTicks mirrors windowupdate/'s HostTicks.
type HostTicks struct {
	Host   string      `json:"host"`
	Ticks  []TickCount `json:"ticks"`
	Latest []byte      `json:"latest"`
}
