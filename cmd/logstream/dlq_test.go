package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func TestParseTimeSpec(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"2026-10-31T08:30:00Z", time.Date(2026, 10, 31, 8, 30, 0, 0, time.UTC), false},
		{"2026-10-31T10:30:00+02:00", time.Date(2026, 10, 31, 8, 30, 0, 0, time.UTC), false},
		{"2026-10-31 08:30", time.Date(2026, 10, 31, 8, 30, 0, 0, time.UTC), false},
		{"2026-10-31", time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"3d", now.Add(-72 * time.Hour), false},
		{"0s", now, false},
		{"", time.Time{}, false},
		{"-2h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
	} {
		s, err := parseTimeSpec(tc.in)
		if tc.bad != (err != nil) {
			t.Errorf("parseTimeSpec(%q): %v", tc.in, err)
			continue
		}
		if got := s.resolve(now); !tc.bad && !got.Equal(tc.want) {
			t.Errorf("parseTimeSpec(%q) resolves to %v, want %v", tc.in, got, tc.want)
		}
	}
}

// dlqRun runs a logstream command against addr and returns its exit code,
// stdout and stderr.
func dlqRun(addr string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(append(args, "--brokers", addr), &out, &errb, env(nil))
	return code, out.String(), errb.String()
}

func dlqEnds(t *testing.T, addr, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// `logstream dlq list`, `show` and `replay` on the embedded broker: what
// they print, and the errors they give for bad input.
func TestDLQCommands(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	addr := e.Addr()
	if err := broker.EnsureTopics([]string{addr}, broker.Tuning{Replication: 1},
		map[string]int{topology.TopicDLQ: 2, topology.TopicRaw: 2, topology.TopicParsed: 2, topology.TopicUnique: 2}, nil); err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	raw, err := set.RawLog.Marshal(&schemas.RawLog{Host: "web-3", Source: "/var/log/app.log", Line: "payment declined", ReceivedAt: at.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	letters := []schemas.DeadLetter{
		{OriginalKey: []byte("web-3"), OriginalValue: raw, SourceTopic: topology.TopicRaw, SourcePartition: 1, SourceOffset: 41,
			Stage: "parse", Error: "codecs: RawLog: fingerprint 0102030405060708 is no schema this build knows (a newer version's?), and no schema registry is configured", Time: at.UnixMilli()},
		{OriginalKey: []byte("web-1"), OriginalValue: []byte{'o', 0xff, 'k'}, SourceTopic: topology.TopicRaw, SourcePartition: 0, SourceOffset: 7,
			Stage: "parse", Error: "value is neither Avro (no C3 01 marker or Confluent zero byte) nor UTF-8 text", Time: at.Add(time.Minute).UnixMilli()},
		{OriginalKey: []byte("e9"), OriginalValue: []byte("{}"), SourceTopic: topology.TopicParsed, SourcePartition: 1, SourceOffset: 3,
			Stage: "dedupe", Error: "dedupe: LogEvent has an empty event_id", Time: at.Add(2 * time.Minute).UnixMilli()},
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range letters {
		b, err := set.DeadLetter.Marshal(&letters[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topology.TopicDLQ, Partition: int32(i % 2), Key: letters[i].OriginalKey, Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The dead letters are at 0/0, 1/0 and 0/1.

	code, out, errs := dlqRun(addr, "dlq", "list")
	if code != 0 || !strings.HasPrefix(out, "ID ") || strings.Count(out, "\n") != 4 ||
		!strings.Contains(out, "0/0  2026-11-01 12:00:00.000  parse   logs.raw/1/41") || !strings.Contains(errs, "3 dead letters (3 records read on logs.dlq)") {
		t.Errorf("dlq list: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = dlqRun(addr, "dlq", "list", "--stage", "parse", "--reason", "utf-8", "--format", "json")
	var row struct {
		ID, Stage, Reason, Key string
		SourceTopic            string `json:"source_topic"`
		ValueBytes             int    `json:"value_bytes"`
	}
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &row) != nil ||
		row.ID != "1/0" || row.Key != "web-1" || row.SourceTopic != topology.TopicRaw || row.ValueBytes != 3 || !strings.Contains(errs, "1 dead letters matched") {
		t.Errorf("dlq list --stage parse --reason utf-8 --format json: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs = dlqRun(addr, "dlq", "list", "--since", "2026-11-02", "--until", "2026-11-01"); code != 2 || !strings.Contains(errs, "is not before --until") {
		t.Errorf("dlq list --since after --until: exit %d, %s", code, errs)
	}

	// show decodes the RawLog the dead letter kept.
	code, out, errs = dlqRun(addr, "dlq", "show", "0/0")
	for _, want := range []string{"dead letter    logs.dlq/0/0", "source         logs.raw/1/41", `key            "web-3"`,
		"value          " + strconv.Itoa(len(raw)) + " bytes, RawLog v1 (single-object)", "no schema registry is configured", `"line": "payment declined"`, `"host": "web-3"`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("dlq show 0/0: exit %d, output lacks %q:\n%s%s", code, want, out, errs)
		}
	}
	code, out, _ = dlqRun(addr, "dlq", "show", "logs.dlq/1/0", "--format", "json")
	var shown struct {
		ValueAs  string `json:"value_as"`
		ValueHex string `json:"value_hex"`
		Base64   []byte `json:"value_base64"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.ValueAs != "hex" || shown.ValueHex != "6fff6b" || string(shown.Base64) != "o\xffk" {
		t.Errorf("dlq show 1/0 --format json: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"dlq", "show", "zero"}, 2, "PARTITION/OFFSET"},
		{[]string{"dlq", "show"}, 2, "name one dead letter"},
		{[]string{"dlq", "show", "0/99"}, 1, "offset 99 is not written yet"},
		{[]string{"dlq", "show", "9/0"}, 1, "logs.dlq has partitions 0-1, not 9"},
		{[]string{"dlq", "replay"}, 2, "name the dead letters to replay"},
		{[]string{"dlq", "replay", "--all", "--to", "logs.rawr"}, 2, `"logs.rawr" is no topic of the pipeline`},
		{[]string{"dlq", "replay", "--all", "--to", "dedupe-table"}, 2, "group table"},
		{[]string{"dlq", "replay", "1/x"}, 2, "PARTITION/OFFSET"},
	} {
		code, out, errs := dlqRun(addr, tc.args...)
		if code != tc.code || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, tc.says) || out != "" {
			t.Errorf("%v: exit %d (want %d), stderr %q (want one line saying %q), stdout %q", tc.args, code, tc.code, errs, tc.says, out)
		}
	}

	// A dry run prints what it would send and sends nothing.
	before := dlqEnds(t, addr, topology.TopicRaw)
	code, out, errs = dlqRun(addr, "dlq", "replay", "--source-topic", "logs.raw", "--dry-run")
	if code != 0 || strings.Count(out, "send  ") != 2 || !strings.Contains(out, `send  0/0 -> logs.raw  key "web-3", `+strconv.Itoa(len(raw))+" bytes, timestamp 2026-11-01T12:00:00Z") ||
		!strings.Contains(errs, "2 dead letters selected: would replay 2 to logs.raw") {
		t.Errorf("dlq replay --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if after := dlqEnds(t, addr, topology.TopicRaw); !maps.Equal(after, before) {
		t.Errorf("the dry run wrote to logs.raw: end offsets %v, were %v", after, before)
	}
	// A replay by id, then the same again.
	code, out, errs = dlqRun(addr, "dlq", "replay", "0/0")
	if code != 0 || out != "" || !strings.Contains(errs, "1 dead letters selected: replayed 1 to logs.raw; skipped 0 already replayed") {
		t.Errorf("dlq replay 0/0: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = dlqRun(addr, "dlq", "replay", "0/0", "--dry-run")
	if code != 0 || !strings.Contains(errs, "would replay 0; skipped 1 already replayed") {
		t.Errorf("dlq replay 0/0 again: exit %d\n%s", code, errs)
	}
	// The dedupe dead letter goes back to logs.parsed, which only dedupe reads.
	code, _, errs = dlqRun(addr, "dlq", "replay", "--stage", "dedupe")
	if code != 0 || !strings.Contains(errs, "replayed 1 to logs.parsed") || strings.Contains(errs, "note:") {
		t.Errorf("dlq replay --stage dedupe: exit %d\n%s", code, errs)
	}
	// --to a topic more than one stage reads: the summary says who gets it.
	code, _, errs = dlqRun(addr, "dlq", "replay", "--stage", "dedupe", "--to", "logs.unique")
	if code != 0 || !strings.Contains(errs, "replayed 1 to logs.unique") ||
		!strings.Contains(errs, "note: logs.unique is read by tracejoin, errorrate-combine; each of them gets the replayed records") {
		t.Errorf("dlq replay --to logs.unique: exit %d\n%s", code, errs)
	}
	code, _, errs = dlqRun(addr, "dlq", "replay", "--stage", "dedupe", "--to", "logs.enriched")
	if code != 1 || !strings.Contains(errs, "topic logs.enriched does not exist") {
		t.Errorf("dlq replay --to a topic that does not exist: exit %d\n%s", code, errs)
	}
}

// Without a logs.dlq on the cluster, the commands say so.
func TestDLQWithoutTopic(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	code, _, errs := dlqRun(e.Addr(), "dlq", "list")
	if code != 1 || !strings.Contains(errs, "topic logs.dlq does not exist") || !strings.Contains(errs, "no stage has dead-lettered anything") {
		t.Errorf("dlq list without logs.dlq: exit %d, %s", code, errs)
	}
}
