package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/logstream/logstream/broker"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/parse/mask"
)

// Config is every setting of every subcommand, resolved with the
// precedence flag > environment > YAML file > default.
type Config struct {
	ConfigFile     string
	Brokers        []string
	EmbeddedAddr   string
	EmbeddedData   string
	Partitions     int
	Replication    int
	BatchSize      int
	Compression    string
	MaxConcurrency int
	LogLevel       zerolog.Level
	LogFormat      string
	AdminAddr      string
	Pprof          bool
	StateDir       string

	Duration    time.Duration
	Rate        int
	Seed        uint64
	SummaryJSON string
	DrainStall  time.Duration
	DrainLimit  time.Duration

	Host            string
	Follow          bool
	FlushTimeout    time.Duration // ingest (ingest.go)
	DeliveryTimeout time.Duration // ingest (ingest.go)

	Format string

	SchemasDir   string
	Write        bool
	RegistryURL  string
	RegistryAddr string
	Encodings    map[string]string // topic → wire format
	Cluster      string

	FromBeginning bool
	Max           int
	Partition     int
	ExitAtEnd     bool

	Stages      []string
	DedupeTTL   time.Duration
	DedupeCache int
	JoinWindow  time.Duration
	HoldIdle    time.Duration
	JoinMaxHeld int
	MaxFuture   time.Duration
	// MaskPatterns are what the parse stage masks besides card numbers.
	MaskPatterns []mask.Pattern
	// Kafka is the clients' TLS and SASL as set; security is what was
	// built from it (finishSecurity).
	Kafka             broker.SecurityConfig
	kafkaPasswordFile string
	security          *broker.Security
	EmbeddedTLSCert   string
	EmbeddedTLSKey    string
	EmbeddedSASL      []broker.EmbeddedUser

	MemoryLimit int64 // bytes; memoryAuto or 0 (none)
	GCPercent   int   // gcAuto or 10-1000

	Alerting alertSettings // the errorrate stage and the alerter (alerting.go)

	Page pageSettings // logstream page's targets (page.go)

	Sink sinkSettings // logstream sink s3|openobserve (sink.go)

	Status    statusSettings    // logstream status (status.go)
	Reprocess reprocessSettings // logstream reprocess (reprocess.go)
	DLQ       dlqSettings       // logstream dlq list|show|replay (dlq.go)
	// DemoS3Dir is where the demo's embedded S3 store keeps its objects.
	DemoS3Dir string

	// joinIdle is set by the demo: how soon a silent join partition
	// releases what it holds (0: one join window).
	joinIdle time.Duration
}

// setting is one configurable value: its flag, environment variable and
// YAML key, its default, and how to parse it into Config.
type setting struct {
	name   string // flag name and YAML key
	env    string
	def    string
	usage  string
	isBool bool
	// secret marks a credential (password, token, key): its help says to
	// pass it by environment or file, and the admin port's
	// /debug/pprof/cmdline hides its value (see secretFlags).
	secret bool
	// list: the setting takes several values, one a line: a flag given
	// again adds one, and a list in the config file gives one per item.
	list  bool
	parse func(c *Config, v string) error
}

// usageError is a bad command line or setting: one line, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

var (
	sConfig = setting{name: "config", env: "LOGSTREAM_CONFIG", usage: "YAML file of settings (keys are the flag names)",
		parse: func(c *Config, v string) error { c.ConfigFile = v; return nil }}
	sBrokers = setting{name: "brokers", env: "LOGSTREAM_BROKERS", usage: "Kafka bootstrap brokers, host:port,...; empty starts the embedded broker",
		parse: func(c *Config, v string) error {
			c.Brokers = nil
			for _, b := range strings.Split(v, ",") {
				if b = strings.TrimSpace(b); b == "" {
					continue
				}
				if _, _, err := net.SplitHostPort(b); err != nil {
					return fmt.Errorf("%q is not host:port", b)
				}
				c.Brokers = append(c.Brokers, b)
			}
			return nil
		}}
	sEmbeddedAddr = setting{name: "embedded-addr", env: "LOGSTREAM_EMBEDDED_ADDR", def: "127.0.0.1:9092", usage: "address of the embedded broker (used when --brokers is empty)",
		parse: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
			c.EmbeddedAddr = v
			return nil
		}}
	sEmbeddedData = setting{name: "embedded-data", env: "LOGSTREAM_EMBEDDED_DATA", usage: "directory where the embedded broker persists its data; empty keeps it in memory",
		parse: func(c *Config, v string) error { c.EmbeddedData = v; return nil }}
	sPartitions = setting{name: "partitions", env: "LOGSTREAM_PARTITIONS", def: "6", usage: "partitions of every pipeline topic (stages scale to this many pods)",
		parse: intIn(1, 10000, func(c *Config, n int) { c.Partitions = n })}
	sReplication = setting{name: "replication", env: "LOGSTREAM_REPLICATION", def: "1", usage: "replication factor of created topics (1 on the embedded broker)",
		parse: intIn(1, 32, func(c *Config, n int) { c.Replication = n })}
	sBatchSize = setting{name: "batch-size", env: "BATCH_SIZE", def: "1000", usage: "records a producer gathers into one batch before it sends",
		parse: intIn(1, 1000000, func(c *Config, n int) { c.BatchSize = n })}
	sMaxConcurrency = setting{name: "max-concurrency", env: "MAX_CONCURRENCY", def: "5", usage: "requests the stages' consumers (sarama's clients, under goka) keep in flight per broker connection; the stages write through idempotent producers, which keep each partition in order for their exactly-once output whatever it is",
		parse: intIn(1, 64, func(c *Config, n int) { c.MaxConcurrency = n })}
	sCompression = setting{name: "compression", env: "LOGSTREAM_COMPRESSION", def: "none", usage: "compression of the record batches written to Kafka: none, lz4, snappy, zstd or gzip (lz4 saves network and disk on a cluster for about 8% more CPU per event)",
		parse: func(c *Config, v string) error {
			if err := broker.CheckCompression(v); err != nil {
				return err
			}
			c.Compression = v
			return nil
		}}
	sLogLevel = setting{name: "log-level", env: "LOGSTREAM_LOG_LEVEL", def: "info", usage: "debug, info, warn or error",
		parse: func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
			default:
				return fmt.Errorf("%q is not one of debug, info, warn, error", v)
			}
			l, _ := zerolog.ParseLevel(v)
			c.LogLevel = l
			return nil
		}}
	sLogFormat = setting{name: "log-format", env: "LOGSTREAM_LOG_FORMAT", def: "auto", usage: "json, console, or auto (console on a terminal, JSON otherwise)",
		parse: oneOf(func(c *Config, v string) { c.LogFormat = v }, "auto", "json", "console")}
	sAdminAddr = setting{name: "admin-addr", env: "LOGSTREAM_ADMIN_ADDR", def: "127.0.0.1:9464", usage: "address of the admin port (/metrics, /healthz, /readyz; /debug/pprof/ with --pprof); empty disables it",
		parse: func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("%q is not host:port", v)
				}
			}
			c.AdminAddr = v
			return nil
		}}
	sPprof = boolSetting("pprof", "LOGSTREAM_PPROF", "serve Go's profiles (CPU, heap, goroutines, trace) on the admin port under /debug/pprof/; off by default because anyone who reaches the port could read them and make the process spend CPU on them",
		func(c *Config, b bool) { c.Pprof = b })
	sStateDir = setting{name: "state-dir", env: "LOGSTREAM_STATE_DIR", usage: "directory for local table stores (LevelDB); empty keeps them in memory, rebuilt from Kafka at start",
		parse: func(c *Config, v string) error { c.StateDir = v; return nil }}
	sDuration = setting{name: "duration", env: "LOGSTREAM_DURATION", def: "60s", usage: "how long the demo's fleet writes at --rate before the demo drains and exits (it writes rate × duration lines, taking longer if the machine cannot keep the pace)",
		parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 24*time.Hour {
				return fmt.Errorf("%q is not a duration between 0 and 24h (e.g. 30s, 2m)", v)
			}
			c.Duration = d
			return nil
		}}
	sDrainStall = setting{name: "drain-stall", env: "LOGSTREAM_DRAIN_STALL", def: "1m", usage: "demo: give up waiting for the stages to catch up once their backlog has not shrunk for this long (then name the groups behind and exit 1)",
		parse: durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.DrainStall = d })}
	sDrainLimit = setting{name: "drain-limit", env: "LOGSTREAM_DRAIN_LIMIT", def: "10m", usage: "demo: longest wait for the stages to catch up, however steadily their backlog shrinks",
		parse: durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.DrainLimit = d })}
	sRate = setting{name: "rate", env: "LOGSTREAM_RATE", def: "2000", usage: "log lines per second the demo's fleet writes",
		parse: intIn(1, 10000000, func(c *Config, n int) { c.Rate = n })}
	sSeed = setting{name: "seed", env: "LOGSTREAM_SEED", def: "1", usage: "seed of the demo's load generator",
		parse: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a non-negative integer", v)
			}
			c.Seed = n
			return nil
		}}
	sSummaryJSON = setting{name: "summary-json", env: "LOGSTREAM_SUMMARY_JSON", usage: "also write the demo's final summary as JSON to this file",
		parse: func(c *Config, v string) error { c.SummaryJSON = v; return nil }}
	sHost = setting{name: "host", env: "LOGSTREAM_HOST", usage: "host name for every line; empty takes it from the line (syslog, JSON host), else this machine's name",
		parse: func(c *Config, v string) error { c.Host = v; return nil }}
	sFollow = boolSetting("follow", "LOGSTREAM_FOLLOW", "keep reading files as they grow (like tail -F), until interrupted",
		func(c *Config, b bool) { c.Follow = b })
	sFormat = setting{name: "format", env: "LOGSTREAM_TOPOLOGY_FORMAT", def: "text", usage: "text, dot, mermaid or strimzi (the topics as Strimzi KafkaTopic resources)",
		parse: oneOf(func(c *Config, v string) { c.Format = v }, "text", "dot", "mermaid", "strimzi")}
	sSchemasDir = setting{name: "schemas-dir", env: "LOGSTREAM_SCHEMAS_DIR", usage: "schemas directory to read; empty reads ./schemas when it exists (a checkout), else the schemas built into this binary",
		parse: func(c *Config, v string) error { c.SchemasDir = v; return nil }}
	sWrite = boolSetting("write", "LOGSTREAM_SCHEMAS_WRITE", "write manifest.json instead of printing it",
		func(c *Config, b bool) { c.Write = b })
	sRegistry = setting{name: "registry", env: "LOGSTREAM_REGISTRY_URL", usage: "Confluent-compatible schema registry (e.g. a 'logstream registry') to fetch writer schemas this build does not know; empty: such records go to the dead-letter topic",
		parse: func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%q is not an http(s) URL", v)
				}
			}
			c.RegistryURL = strings.TrimRight(v, "/")
			return nil
		}}
	sRegistryAddr = setting{name: "addr", env: "LOGSTREAM_REGISTRY_ADDR", def: "127.0.0.1:8081", usage: "address the registry listens on",
		parse: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
			c.RegistryAddr = v
			return nil
		}}
	sEncoding = setting{name: "encoding", env: "LOGSTREAM_ENCODING", usage: "wire format of the Avro records written to a topic, TOPIC=single-object|confluent,...; unlisted topics use single-object (readers accept both)",
		parse: func(c *Config, v string) error {
			c.Encodings = map[string]string{}
			for _, kv := range strings.Split(v, ",") {
				if kv = strings.TrimSpace(kv); kv == "" {
					continue
				}
				topic, wire, ok := strings.Cut(kv, "=")
				if !ok || topic == "" {
					return fmt.Errorf("%q is not TOPIC=FORMAT", kv)
				}
				if _, err := codecs.ParseWire(wire); err != nil {
					return fmt.Errorf("%s: %v", topic, err)
				}
				c.Encodings[topic] = wire
			}
			return nil
		}}
	sCluster = setting{name: "cluster", env: "LOGSTREAM_CLUSTER", usage: "cluster name for events whose shipper labels name none (LogEvent.cluster)",
		parse: func(c *Config, v string) error { c.Cluster = v; return nil }}
	sFromBeginning = boolSetting("from-beginning", "LOGSTREAM_TAIL_FROM_BEGINNING", "start at each partition's first record instead of its end",
		func(c *Config, b bool) { c.FromBeginning = b })
	sMax = setting{name: "max", env: "LOGSTREAM_TAIL_MAX", def: "0", usage: "stop after this many records; 0 runs until interrupted",
		parse: intIn(0, math.MaxInt32, func(c *Config, n int) { c.Max = n })}
	sPartition = setting{name: "partition", env: "LOGSTREAM_TAIL_PARTITION", def: "-1", usage: "read only this partition; -1 reads all",
		parse: intIn(-1, 1<<20, func(c *Config, n int) { c.Partition = n })}
	sExitAtEnd = boolSetting("exit-at-end", "LOGSTREAM_TAIL_EXIT_AT_END", "stop when every partition reaches the end it had at start (like kcat -e)",
		func(c *Config, b bool) { c.ExitAtEnd = b })
)

// boolSetting is a flag without a value (--name, or --name=false).
func boolSetting(name, env, usage string, set func(*Config, bool)) setting {
	return setting{name: name, env: env, def: "false", isBool: true, usage: usage,
		parse: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			set(c, b)
			return nil
		}}
}

var (
	sStages = setting{name: "stages", env: "LOGSTREAM_STAGES", def: strings.Join(pipeline.StageNames(), ","),
		usage: "stages this pod runs, comma-separated (" + strings.Join(pipeline.StageNames(), ", ") + "); pods of one deployment may split them",
		parse: func(c *Config, v string) error {
			c.Stages = nil
			for _, s := range strings.Split(v, ",") {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
				if !slices.Contains(pipeline.StageNames(), s) {
					return fmt.Errorf("%q is no stage (stages: %s)", s, strings.Join(pipeline.StageNames(), ", "))
				}
				c.Stages = append(c.Stages, s)
			}
			if len(c.Stages) == 0 {
				return errors.New("names no stage")
			}
			return nil
		}}
	sDedupeTTL = setting{name: "dedupe-ttl", env: "LOGSTREAM_DEDUPE_TTL", def: "10m", usage: "how long (event time) dedupe remembers an event id; a repeat within it is dropped",
		parse: durationIn(time.Second, 30*24*time.Hour, func(c *Config, d time.Duration) { c.DedupeTTL = d })}
	sDedupeCache = setting{name: "dedupe-cache", env: "LOGSTREAM_DEDUPE_CACHE", def: "262144", usage: "event ids dedupe keeps in its hot-id cache in front of its LevelDB table (0 disables it; without --state-dir the table is in memory and there is no cache)",
		parse: intIn(0, 1<<30, func(c *Config, n int) { c.DedupeCache = n })}
	sJoinWindow = setting{name: "join-window", env: "LOGSTREAM_JOIN_WINDOW", def: "30s", usage: "how long (event time) an event waits for its trace span before it leaves unenriched (join_status timeout)",
		parse: durationIn(100*time.Millisecond, 24*time.Hour, func(c *Config, d time.Duration) { c.JoinWindow = d })}
	sHoldIdle = setting{name: "hold-idle", env: "LOGSTREAM_HOLD_IDLE", def: "2s", usage: "how long (wall clock) the parse stage holds a CRI partial line, or a line a stack trace may follow, without its next line before it emits it as it stands; must be below --idle-timeout",
		parse: durationIn(50*time.Millisecond, time.Minute, func(c *Config, d time.Duration) { c.HoldIdle = d })}
	sJoinMaxHeld = setting{name: "join-max-held", env: "LOGSTREAM_JOIN_MAX_HELD", def: "100000", usage: "events the trace join holds waiting for their spans per partition; past it the oldest leave at once unenriched (join_status timeout, counted as bound)",
		parse: intIn(1, 1<<30, func(c *Config, n int) { c.JoinMaxHeld = n })}
	sMaxFuture = setting{name: "max-future", env: "LOGSTREAM_MAX_FUTURE", def: "1h", usage: "an event further than this ahead of when its record was written (the wall clock at the latest) is passed on, counted as future, and does not move event time",
		parse: durationIn(time.Second, 30*24*time.Hour, func(c *Config, d time.Duration) { c.MaxFuture = d })}
)

func durationIn(lo, hi time.Duration, set func(*Config, time.Duration)) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("%q is not a duration between %s and %s (e.g. 30s, 10m)", v, lo, hi)
		}
		set(c, d)
		return nil
	}
}

var (
	connectionSettings = append(append([]setting{sConfig, sBrokers, sEmbeddedAddr, sEmbeddedData, sPartitions, sReplication, sBatchSize, sMaxConcurrency, sCompression, sLogLevel, sLogFormat},
		kafkaSecuritySettings...), embeddedSecuritySettings...)
	pipelineSettings = append(append([]setting(nil), connectionSettings...), sAdminAddr, sPprof, sStateDir, sRegistry, sEncoding, sCluster,
		sStages, sDedupeTTL, sDedupeCache, sJoinWindow, sJoinMaxHeld, sHoldIdle, sMaxFuture, sMemoryLimit, sGCPercent, sMaskPatterns)
)

// The alerting settings join the pipeline's (alerting.go).
func init() { pipelineSettings = append(pipelineSettings, alertingSettings...) }

// withUsage returns s with another help text, for a command where the
// setting means something narrower.
func withUsage(s setting, usage string) setting {
	s.usage = usage
	return s
}

func intIn(lo, hi int, set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not an integer between %d and %d", v, lo, hi)
		}
		set(c, n)
		return nil
	}
}

func oneOf(set func(*Config, string), allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				set(c, v)
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

// command is a subcommand's description for parsing and --help.
type command struct {
	name     string // "run", "topology describe"
	args     string // positional arguments in the usage line
	short    string
	long     string
	settings []setting
}

// rawFlag records a flag's text and whether it was given.
type rawFlag struct {
	val    string
	set    bool
	isBool bool
	list   bool // a list setting: each Set adds a line
}

func (f *rawFlag) String() string   { return f.val }
func (f *rawFlag) IsBoolFlag() bool { return f.isBool }

func (f *rawFlag) Set(v string) error {
	if f.list && f.set {
		v = f.val + "\n" + v
	}
	f.val, f.set = v, true
	return nil
}

// errHelp asks for the command's help text (exit 0).
var errHelp = errors.New("help requested")

// parseConfig resolves cmd's settings from args, env (lookup) and the
// YAML file, and returns the positional arguments.
func parseConfig(cmd command, args []string, lookup func(string) (string, bool)) (*Config, []string, error) {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := map[string]*rawFlag{}
	for _, s := range cmd.settings {
		f := &rawFlag{val: s.def, isBool: s.isBool, list: s.list}
		flags[s.name] = f
		fs.Var(f, s.name, s.usage)
	}
	flagArgs, rest := splitArgs(args, flags)
	if err := fs.Parse(flagArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, errHelp
		}
		return nil, nil, usagef("logstream %s: %s (see 'logstream %s --help')", cmd.name, err, cmd.name)
	}

	file := map[string]string{}
	cfgPath := ""
	if f := flags["config"]; f != nil {
		cfgPath = f.val
		if !f.set {
			if v, ok := lookup(sConfig.env); ok {
				cfgPath = v
			}
		}
	}
	if cfgPath != "" {
		var err error
		if file, err = readConfigFile(cfgPath, cmd); err != nil {
			return nil, nil, err
		}
	}

	c := &Config{}
	for _, s := range cmd.settings {
		f := flags[s.name]
		val, from := s.def, "default"
		if f.set {
			val, from = f.val, "flag --"+s.name
		} else if v, ok := lookup(s.env); ok {
			val, from = v, "env "+s.env
		} else if v, ok := file[s.name]; ok {
			val, from = v, "file "+cfgPath
		}
		if err := s.parse(c, val); err != nil {
			return nil, nil, usagef("logstream %s: invalid setting %s (from %s): %v", cmd.name, s.name, from, err)
		}
	}
	if err := finishSecurity(c); err != nil {
		return nil, nil, usagef("logstream %s: %v", cmd.name, err)
	}
	return c, rest, nil
}

// splitArgs separates flags from positional arguments wherever they
// stand, so that "ingest app.log --follow" works like "ingest --follow
// app.log". Everything after "--" is positional.
func splitArgs(args []string, flags map[string]*rawFlag) (flagArgs, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flagArgs, append(positional, args[i+1:]...)
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			positional = append(positional, a)
			continue
		}
		flagArgs = append(flagArgs, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f, ok := flags[name]; ok && !f.isBool && i+1 < len(args) {
			i++
			flagArgs = append(flagArgs, args[i])
		}
	}
	return flagArgs, positional
}

// readConfigFile reads a flat YAML map of setting names to scalars and
// lists. A list is one value, its items joined by commas, except for a
// list setting: one line per item, a map item as a JSON object.
func readConfigFile(path string, cmd command) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("logstream %s: invalid setting config: %v", cmd.name, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, usagef("logstream %s: invalid setting config: %s is not a YAML map of settings: %v", cmd.name, path, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	known := map[string]setting{}
	for _, s := range allSettings() {
		known[s.name] = s
	}
	out := map[string]string{}
	for k, v := range raw {
		key := strings.ReplaceAll(k, "_", "-")
		s, ok := known[key]
		if !ok {
			return nil, usagef("logstream %s: invalid setting %s in %s: no such setting", cmd.name, k, path)
		}
		switch t := v.(type) {
		case []any:
			if s.list {
				lines, err := listLines(t)
				if err != nil {
					return nil, usagef("logstream %s: invalid setting %s in %s: %v", cmd.name, k, path, err)
				}
				out[key] = lines
				continue
			}
			parts := make([]string, len(t))
			for i, p := range t {
				parts[i] = fmt.Sprint(p)
			}
			out[key] = strings.Join(parts, ",")
		case map[string]any:
			return nil, usagef("logstream %s: invalid setting %s in %s: expected a scalar or a list", cmd.name, k, path)
		case nil:
			out[key] = ""
		default:
			out[key] = fmt.Sprint(t)
		}
	}
	return out, nil
}

// listLines is a list setting's items from the config file, one a line.
func listLines(items []any) (string, error) {
	lines := make([]string, len(items))
	for i, it := range items {
		switch t := it.(type) {
		case map[string]any:
			b, err := json.Marshal(t)
			if err != nil {
				return "", fmt.Errorf("item %d: %v", i+1, err)
			}
			lines[i] = string(b)
		case []any:
			return "", fmt.Errorf("item %d is a list", i+1)
		case nil:
			lines[i] = ""
		default:
			lines[i] = fmt.Sprint(t)
			if strings.Contains(lines[i], "\n") {
				return "", fmt.Errorf("item %d spans lines", i+1)
			}
		}
	}
	return strings.Join(lines, "\n"), nil
}

// allSettings is every setting of every command, each once.
func allSettings() []setting {
	seen := map[string]bool{}
	var out []setting
	for _, c := range commands() {
		for _, s := range c.settings {
			if !seen[s.name] {
				seen[s.name] = true
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// secretFlags names every setting marked secret, of every command: the
// flags whose values the admin port's /debug/pprof/cmdline hides.
func secretFlags() []string {
	var out []string
	for _, s := range allSettings() {
		if s.secret {
			out = append(out, s.name)
		}
	}
	return out
}

// adminOptions are the admin port's options of the settings.
func adminOptions(cfg *Config) admin.Options {
	return admin.Options{Pprof: cfg.Pprof, SecretFlags: secretFlags()}
}

// secretAdvice ends the help of a secret setting.
const secretAdvice = "A secret: pass it by environment or config file, not as a flag (flags show in the process list)"

// writeHelp prints a command's help: usage, description, and each setting
// with its environment variable and default.
func writeHelp(w io.Writer, cmd command) {
	fmt.Fprintf(w, "Usage: logstream %s [flags]%s\n\n%s\n", cmd.name, prefixed(" ", cmd.args), cmd.short)
	if cmd.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.long))
	}
	if len(cmd.settings) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (precedence: flag > environment > config file > default):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range cmd.settings {
		name := "--" + s.name + " value"
		if s.isBool {
			name = "--" + s.name
		}
		def := ""
		if s.def != "" {
			def = " (default " + s.def + ")"
		}
		usage := s.usage
		if s.secret {
			usage += ". " + secretAdvice
		}
		fmt.Fprintf(tw, "  %s\t$%s\t%s%s\n", name, s.env, usage, def)
	}
	fmt.Fprintf(tw, "  -h, --help\t\tshow this help\n")
	tw.Flush()
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
