// Command logstream is the one binary of the logstream pipeline: it runs the
// stages, the demo, the line ingester, and describes the topology. The
// packages do the work; this command parses settings and wires them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

// Set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = "unknown"
)

// commands are the binary's commands. Every command that connects to
// Kafka (it has --brokers) takes the clients' TLS and SASL settings too.
func commands() []command {
	cs := commandList()
	for i, c := range cs {
		has := map[string]bool{}
		for _, s := range c.settings {
			has[s.name] = true
		}
		if has[sBrokers.name] && !has[sKafkaTLS.name] {
			cs[i].settings = append(append([]setting(nil), c.settings...), kafkaSecuritySettings...)
		}
	}
	return cs
}

func commandList() []command {
	return []command{
		{name: "demo", short: "Run the whole pipeline on the embedded broker with a built-in five-host load generator, then print a summary.",
			long: `Starts the embedded Kafka broker (unless --brokers is set), creates the
topics, runs every stage, and feeds logs.raw with realistic mixed-format
lines from a payment-gateway fleet of five hosts (web-1 ... web-5) behind a
load balancer. A one-line status refreshes every second. After --duration
the generator stops, the stages drain what is left, and a final summary is
printed (per stage records in and out, dead letters, alerts). Exits 0 when
every generated line was accounted for. The drain waits as long as the
stages' backlog keeps shrinking (--drain-stall, within --drain-limit);
when it gives up, it names each consumer group behind, by topic and
records, and exits 1.

The S3 writer ('logstream sink s3') runs beside the pipeline against an
embedded S3-compatible store that keeps its objects under --s3-dir
(emptied at start), by default a new private directory under $TMPDIR each
run, printed at start; at the end the demo waits until the writer has
committed every record of logs.enriched and alerts, and lists the objects
(the summary JSON's s3_objects: key, records, partition, first and last
offset). With --openobserve-url (and its user and password) set, the
OpenObserve writer runs too.`,
			settings: append(append([]setting(nil), pipelineSettings...), sDuration, sRate, sSeed, sSummaryJSON, sDemoS3Dir, sDrainStall, sDrainLimit,
				sOpenObserveURL, sOpenObserveOrg, sOpenObserveStream, sOpenObserveUser, sOpenObservePassword)},
		{name: "run", short: "Run the pipeline's stages until interrupted (a consumer-group pod).",
			long: `Runs every stage as a member of its consumer group; start more pods to
spread partitions. Without --brokers it starts the embedded broker first and
prints its address, so other Kafka tools (kcat, producers) can attach.
SIGINT or SIGTERM stops the stages in order after they commit their work.`,
			settings: pipelineSettings},
		{name: "ingest", args: "[FILE...|-]", short: "Send log lines from files or stdin to the raw topic, one record per line.",
			long: ingestLong,
			settings: []setting{sConfig,
				withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
				withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
				withUsage(sPartitions, "partitions of logs.raw and logs.dlq if ingest has to create them"),
				withUsage(sReplication, "replication factor of logs.raw and logs.dlq if ingest has to create them"),
				withUsage(sBatchSize, "records the producer may hold unacknowledged; reading waits while that many are in flight"),
				sHost, sFollow, sFlushTimeout, sDeliveryTimeout, sIngestAdminAddr, sPprof, sMaskPatterns}},
		{name: "topology describe", short: "Print every stage with its topics, group table, key and partition count.",
			long: `--format dot or mermaid prints the graph for Graphviz or Mermaid instead.
--format strimzi prints every topic as a Strimzi KafkaTopic resource
(partitions, replicas, cleanup.policy compact for tables, the loop topics'
retention), as the stages' start-up check wants them; add the label
strimzi.io/cluster naming your Kafka cluster (deploy/overlays/prod does).`,
			settings: []setting{sConfig, sPartitions, sReplication, sEncoding, sFormat}},
		{name: "schemas check", short: "Check the schemas directory: valid schemas, manifest up to date, every version compatible as its record's mode requires.",
			long: `Each record's versions (schemas/<record>/v1.avsc, v2.avsc, ...) must be
compatible in both directions with every earlier version (FULL_TRANSITIVE)
unless schemas/<record>/compatibility names a weaker mode (BACKWARD,
FORWARD, FULL, their _TRANSITIVE forms, or NONE). Every problem is printed
on its own line naming the file, or the record, both versions, the field and
the rule broken (Confluent's names, e.g. READER_FIELD_MISSING_DEFAULT_VALUE).
Exits 1 when there is any.`,
			settings: []setting{sSchemasDir}},
		{name: "schemas list", short: "List every record version with its id, fingerprint and compatibility mode.",
			settings: []setting{sSchemasDir}},
		{name: "schemas fingerprint", args: "FILE...", short: "Print the CRC-64-AVRO fingerprint of .avsc files (and which version each is).",
			settings: []setting{sSchemasDir}},
		{name: "schemas manifest", short: "Print schemas/manifest.json as the directory requires it; --write updates the file.",
			long: `Keeps each file's id, gives new versions the next free ids, and never
reuses an id. Run it after adding a version, then 'logstream schemas check'.`,
			settings: []setting{sSchemasDir, sWrite}},
		{name: "registry", short: "Serve the schemas as a read-only Confluent Schema Registry (REST API) for other Kafka tools.",
			long: `Serves GET /subjects, /subjects/{subject}/versions[/{version|latest}],
/schemas/ids/{id}, /config and more, with Confluent's JSON shapes, content
type and error codes. Subjects are <topic>-value for every pipeline topic
that carries Avro; ids are those of schemas/manifest.json. Read-only:
registering a schema or changing a mode is refused, because the schemas
directory is the source of truth. Point Confluent serializers and
'logstream run --registry' at it.`,
			settings: []setting{sConfig, sRegistryAddr, sSchemasDir, sPartitions, sLogLevel, sLogFormat}},
		{name: "tail", args: "TOPIC", short: "Print a topic's records as JSON lines, decoded with the schema each was written with.",
			long: `Each line holds topic, partition, offset, timestamp, key, the writer's
schema and wire format, and the value as JSON (plain-text values, as
shippers write them to logs.raw, as a string). A record that does not decode
is printed with its error and bytes; tail goes on. Read-only: no consumer
group, no commits. Starts at the end unless --from-beginning.`,
			settings: []setting{sConfig,
				withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
				withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
				sFromBeginning, sMax, sPartition, sExitAtEnd, sRegistry, sLogLevel, sLogFormat}},
		{name: "page", short: "Deliver the alerts topic to Alertmanager (re-sent while open), PagerDuty and/or a webhook, at least once.",
			long: pageLong, settings: pageSettingsList},
		{name: "sink s3", short: "Write the enriched logs and the alerts to S3 (gzip NDJSON or Parquet), exactly once.",
			long: sinkS3Long, settings: sinkS3Settings},
		{name: "sink openobserve", short: "Write the enriched logs and the alerts to OpenObserve, exactly once (reconciling ambiguous outcomes by search).",
			long: sinkOpenObserveLong, settings: sinkOpenObserveSettings},
		{name: "query hosts", short: "Print the hosts with the worst current error rate and the open alerts, read from the pipeline's window state.",
			long: queryHostsLong, settings: queryHostsSettings},
		{name: "status", short: "Print the pipeline's health: each consumer group's members, partitions, committed offsets and lag, dead letters of the last hour, open alerts, sink breakers; exit 1 when unhealthy.",
			long: statusLong, settings: statusSettingsList},
		{name: "reprocess", short: "Reset a stopped consumer group's committed offsets to a time or an offset (printing the plan first), so that it reads records again.",
			long: reprocessLong, settings: reprocessSettingsList},
		{name: "dlq list", short: "List the dead letters on logs.dlq, filtered by stage, reason, time or source topic.",
			long: dlqListLong, settings: dlqListSettings},
		{name: "dlq show", args: "ID", short: "Print one dead letter whole, with its original value decoded where possible.",
			long: dlqShowLong, settings: dlqShowSettings},
		{name: "dlq replay", args: "[ID...]", short: "Write dead letters' original records back to their topics, for another try; twice does not duplicate.",
			long: dlqReplayLong, settings: dlqReplaySettings},
		{name: "rules", short: "Print the built-in alert rules (YAML), a starting point for --rules; with --rules FILE, check that file and print it as it is read.",
			settings: []setting{sRules}},
		{name: "version", short: "Print the version and exit."},
	}
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// runMain is main without process exits, for tests.
func runMain(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		writeMainHelp(stdout)
		return 0
	}
	if args[0] == "help" {
		args = append(args[1:], "--help")
	}
	cmd, rest, ok := findCommand(args)
	if !ok {
		if group, subs, rest := findGroup(args); len(subs) > 0 {
			return runGroup(group, subs, rest, stdout, stderr)
		}
		fmt.Fprintf(stderr, "logstream: unknown command %q (see 'logstream --help')\n", strings.Join(args[:min(len(args), 2)], " "))
		return 2
	}
	cfg, pos, err := parseConfig(cmd, rest, lookup)
	if errors.Is(err, errHelp) {
		writeHelp(stdout, cmd)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd.name {
	case "version":
		fmt.Fprintf(stdout, "logstream %s (commit %s)\n", version, commit)
		return 0
	case "rules":
		err = printRules(cfg, stdout)
	case "topology describe":
		err = topologyDescribe(cfg, stdout)
	case "run":
		err = runPipeline(ctx, cfg, stderr)
	case "demo":
		err = runDemo(ctx, cfg, stdout, stderr)
	case "ingest":
		err = runIngest(ctx, cfg, pos, stderr)
	case "schemas check":
		err = schemasCheck(cfg, stdout)
	case "schemas list":
		err = schemasList(cfg, stdout)
	case "schemas fingerprint":
		err = schemasFingerprint(cfg, pos, stdout)
	case "schemas manifest":
		err = schemasManifest(cfg, stdout)
	case "registry":
		err = runRegistry(ctx, cfg, stderr)
	case "tail":
		err = runTail(ctx, cfg, pos, stdout, stderr)
	case "page":
		err = runPage(ctx, cfg, stderr)
	case "sink s3":
		err = runSinkS3(ctx, cfg, stderr)
	case "sink openobserve":
		err = runSinkOpenObserve(ctx, cfg, stderr)
	case "query hosts":
		err = runQueryHosts(ctx, cfg, stdout, stderr)
	case "status":
		err = runStatus(ctx, cfg, stdout)
	case "reprocess":
		err = runReprocess(ctx, cfg, stdout)
	case "dlq list":
		err = runDLQList(ctx, cfg, pos, stdout, stderr)
	case "dlq show":
		err = runDLQShow(ctx, cfg, pos, stdout)
	case "dlq replay":
		err = runDLQReplay(ctx, cfg, pos, stdout, stderr)
	}
	if err != nil {
		var es *exitStatus
		if errors.As(err, &es) {
			if es.msg != "" {
				fmt.Fprintln(stderr, es.msg)
			}
			return es.code
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if errors.Is(err, errCheckFailed) {
			return 1
		}
		fmt.Fprintf(stderr, "logstream %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

func findCommand(args []string) (command, []string, bool) {
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):], true
		}
	}
	return command{}, nil, false
}

func writeMainHelp(w io.Writer) {
	fmt.Fprint(w, `logstream: a stream-processing engine for logs, on Kafka.

Raw log lines flow through Avro-encoded Kafka topics into stateful stages:
parse, dedupe, the trace-span join, per-host error-rate windows in event
time (watermarks) and the alerter; undecodable records land in a
dead-letter topic.
Without --brokers, run and demo start an embedded Kafka-protocol broker.

Usage: logstream <command> [flags] [args]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.short)
	}
	tw.Flush()
	fmt.Fprint(w, `
Run 'logstream <command> --help' for a command's flags. Every flag can also
be set by an environment variable (LOGSTREAM_*, plus BATCH_SIZE and
MAX_CONCURRENCY) or a YAML file given with --config; a flag wins over the
environment, which wins over the file.
`)
}
