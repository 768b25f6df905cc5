package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/status"
	"github.com/logstream/logstream/topology"
)

func TestStatusAndReprocessSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--format", "xml"}, "format"},
		{[]string{"status", "--interval", "1d"}, "interval"},
		{[]string{"status", "--sink-metrics", "not a url"}, "sink-metrics"},
		{[]string{"status", "--read-max", "0"}, "read-max"},
		{[]string{"reprocess", "--from-offset", "1"}, "--group"},
		{[]string{"reprocess", "--group", "dedupe"}, "--from"},
		{[]string{"reprocess", "--group", "dedupe", "--from", "1h", "--from-offset", "3"}, "exclude each other"},
		{[]string{"reprocess", "--group", "dedupe", "--from", "yesterday"}, "from"},
		{[]string{"reprocess", "--group", "dedupe", "--from-offset", "-1"}, "from-offset"},
	} {
		var out, errb bytes.Buffer
		if code := runMain(tc.args, &out, &errb, env(nil)); code != 2 || !strings.Contains(errb.String(), tc.want) ||
			strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 and one line naming %q: %q", tc.args, code, tc.want, errb.String())
		}
	}
	c, _, err := parseConfig(cmdByName(t, "status"), []string{"--sink-metrics", "127.0.0.1:9465,https://sink:9/m"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Status.SinkMetrics, " ") != "http://127.0.0.1:9465/metrics https://sink:9/m" || c.Status.Interval != 5*time.Second ||
		c.Status.DeadLetterWindow != time.Hour || c.Format != "table" {
		t.Errorf("status settings: %+v", c.Status)
	}
	c, _, err = parseConfig(cmdByName(t, "reprocess"), []string{"--group", "parse", "--from", "90m"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reprocess.From == nil || time.Since(*c.Reprocess.From) < 89*time.Minute || time.Since(*c.Reprocess.From) > 91*time.Minute {
		t.Errorf("--from 90m: %v", c.Reprocess.From)
	}
	c, _, err = parseConfig(cmdByName(t, "reprocess"), []string{"--group", "parse", "--from", "2026-12-01T09:30:00Z"}, env(nil))
	if err != nil || !c.Reprocess.From.Equal(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("--from RFC 3339: %v %v", c.Reprocess.From, err)
	}
	// The help tells the exit codes and how the last commit is known.
	var h bytes.Buffer
	runMain([]string{"status", "--help"}, &h, &h, env(nil))
	for _, want := range []string{"Exit status: 0 healthy; 1 unhealthy", "3 the brokers did not answer", "remembered between the samples", "--sink-metrics"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("status help lacks %q", want)
		}
	}
}

// Nothing listening: exit 3, health unknown.
func TestStatusUnreachable(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"status", "--brokers", "127.0.0.1:1", "--timeout", "2s", "--interval", "0s"}, &out, &errb, env(nil))
	if code != 3 || !strings.Contains(errb.String(), "did not answer") || !strings.Contains(errb.String(), "127.0.0.1:1 (plaintext)") || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// statusJSON runs `logstream status --format json` and decodes its report.
func statusJSON(t *testing.T, addr string) (int, status.Report, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain([]string{"status", "--brokers", addr, "--format", "json", "--interval", "2s"}, &out, &errb, env(nil))
	var rep status.Report
	if code == 0 || code == 1 {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, out.String(), errb.String())
		}
	}
	return code, rep, out.String() + errb.String()
}

// status and reprocess against a pipeline that `logstream run` runs
// in-process: status lists every stage group with members and lag and
// exits 0; reprocess refuses the running groups; once the pipeline stops,
// status exits 1 naming the groups without members, a dry run changes
// nothing, and real resets move the committed offsets by time and by
// offset.
func TestStatusAndReprocessOnPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline")
	}
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	addr := e.Addr()
	cfg, _, err := parseConfig(cmdByName(t, "run"), []string{"--brokers", addr, "--partitions", "2", "--admin-addr", "",
		"--log-format", "json", "--log-level", "warn"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runPipeline(ctx, cfg, runErr) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v\n%s", err, runErr.String())
		}
	}
	defer stop()

	// Lines on logs.raw: three written half an hour ago, three ten
	// minutes ago, all on partition 0 (record timestamps; parse reads
	// them as they come).
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tctx, tcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer tcancel()
	for ; ; time.Sleep(100 * time.Millisecond) {
		// The pipeline creates its topics as it starts.
		ends, err := adm.ListEndOffsets(tctx, topology.TopicRaw)
		if err == nil && ends.Error() == nil && len(ends[topology.TopicRaw]) == 2 {
			break
		}
		if tctx.Err() != nil {
			t.Fatalf("logs.raw was never created:\n%s", runErr.String())
		}
	}
	now := time.Now()
	for i := range 6 {
		at := now.Add(-30 * time.Minute)
		if i >= 3 {
			at = now.Add(-10 * time.Minute)
		}
		r := &kgo.Record{Topic: topology.TopicRaw, Partition: 0, Key: []byte("web-1"), Timestamp: at,
			Value: []byte(fmt.Sprintf(`{"host":"web-1","level":"info","msg":"request %d"}`, i))}
		if err := cl.ProduceSync(tctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// A running pipeline becomes healthy: every stage's group has members
	// and none's lag grows. (Right after start a group may still be
	// joining: poll.)
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var rep status.Report
	for {
		code, r, out := statusJSON(t, addr)
		rep = r
		if code == 0 {
			break
		}
		if tctx.Err() != nil {
			t.Fatalf("the running pipeline never became healthy: exit %d\n%s", code, out)
		}
		time.Sleep(time.Second)
	}
	if !rep.Healthy || len(rep.Problems) != 0 || rep.Samples < 2 {
		t.Fatalf("exit 0 but the report says %+v", rep)
	}
	byName := map[string]status.Group{}
	for _, g := range rep.Groups {
		byName[g.Group] = g
	}
	for _, g := range topo.Groups() {
		got, ok := byName[g.Name]
		if !ok {
			t.Errorf("status lacks group %s", g.Name)
			continue
		}
		if g.Kind != topology.KindStage {
			// page and the sinks do not run here.
			if got.Known || got.Required {
				t.Errorf("group %s does not run, yet: %+v", g.Name, got)
			}
			continue
		}
		topics := map[string]bool{}
		for _, p := range got.Partitions {
			topics[p.Topic] = true
			if p.Lag < 0 || p.Error != "" || p.Member == "" {
				t.Errorf("group %s, %s/%d: %+v", g.Name, p.Topic, p.Partition, p)
			}
		}
		for _, in := range g.Topics() {
			if !topics[in] {
				t.Errorf("group %s: no lag for %s (loop topics included): %+v", g.Name, in, got.Partitions)
			}
		}
		if !got.Required || !got.Known || len(got.Members) == 0 || got.LagGrowing || got.Lag < 0 {
			t.Errorf("group %s: %+v", g.Name, got)
		}
	}
	if parse := byName[topology.GroupParse]; len(parse.Members) != 1 || parse.Members[0].ClientID != "logstream-parse" ||
		!slices.Equal(parse.Members[0].Assigned[topology.TopicRaw], []int32{0, 1}) {
		t.Errorf("parse's member: %+v", parse.Members)
	}
	var table bytes.Buffer
	runMain([]string{"status", "--brokers", addr, "--interval", "0s"}, &table, &table, env(nil))
	for _, want := range []string{"GROUP", "errorrate-combine", "logstream-dedupe", "dedupe-loop", "not deployed", "dead letters since", "open alerts: 0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("status table lacks %q:\n%s", want, table.String())
		}
	}

	// A running group's offsets are not moved: one line names its member.
	var out, errb bytes.Buffer
	code := runMain([]string{"reprocess", "--brokers", addr, "--group", "dedupe", "--from-offset", "0"}, &out, &errb, env(nil))
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "group dedupe has 1 member (logstream-dedupe on ") ||
		strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
		t.Fatalf("reprocess of a running group: exit %d\nstdout %q\nstderr %q", code, out.String(), errb.String())
	}

	// Stopped, the stages' groups have no members: exit 1, each named.
	stop()
	var problems string
	for {
		code, r, out := statusJSON(t, addr)
		problems = strings.Join(r.Problems, "\n")
		if code == 1 && strings.Count(problems, "has no members") == len(topo.Stages()) {
			break
		}
		if tctx.Err() != nil {
			t.Fatalf("a stopped pipeline is not reported: exit %d\n%s", code, out)
		}
		time.Sleep(time.Second)
	}
	for _, s := range topo.Stages() {
		if !strings.Contains(problems, "group "+s.Group+" has no members") {
			t.Errorf("problems do not name %s:\n%s", s.Group, problems)
		}
	}

	offsets := func(group string) map[string]map[int32]int64 {
		t.Helper()
		offs, err := adm.FetchOffsets(tctx, group)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) {
			if m[o.Topic] == nil {
				m[o.Topic] = map[int32]int64{}
			}
			m[o.Topic][o.Partition] = o.At
		})
		return m
	}

	// A dry run prints the plan and what reprocessing means for the
	// stage, and changes nothing.
	before := offsets(topology.GroupDedupe)
	out.Reset()
	errb.Reset()
	code = runMain([]string{"reprocess", "--brokers", addr, "--group", "dedupe", "--from-offset", "0", "--dry-run"}, &out, &errb, env(nil))
	if code != 0 || !regexp.MustCompile(`(?m)^logs\.parsed +0 +[1-9][0-9]* -> 0 *$`).MatchString(out.String()) ||
		regexp.MustCompile(`(?m)^dedupe-loop`).MatchString(out.String()) ||
		!strings.Contains(out.String(), "fence on logs.unique") || !strings.Contains(out.String(), "dry run: nothing changed") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if after := offsets(topology.GroupDedupe); fmt.Sprint(after) != fmt.Sprint(before) || before[topology.TopicParsed][0] == 0 {
		t.Fatalf("the dry run moved offsets: %v, then %v", before, after)
	}

	// By offset: every partition of logs.parsed (dedupe's input) from 1;
	// its loop topic stays.
	out.Reset()
	if code := runMain([]string{"reprocess", "--brokers", addr, "--group", "dedupe", "--from-offset", "1"}, &out, &errb, env(nil)); code != 0 {
		t.Fatalf("reprocess by offset: exit %d\n%s%s", code, out.String(), errb.String())
	}
	after := offsets(topology.GroupDedupe)
	for p, at := range after[topology.TopicParsed] {
		if at != 1 {
			t.Errorf("logs.parsed/%d committed at %d, want 1", p, at)
		}
	}
	if fmt.Sprint(after[topology.LoopTopic(topology.GroupDedupe)]) != fmt.Sprint(before[topology.LoopTopic(topology.GroupDedupe)]) {
		t.Errorf("dedupe-loop moved: %v, then %v", before, after)
	}

	// By time: parse from twenty minutes ago starts partition 0 at the
	// fourth line (offset 3); partition 1, without a record that recent,
	// at its end.
	ends, err := adm.ListEndOffsets(tctx, topology.TopicRaw)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	from := now.Add(-20 * time.Minute).UTC().Format(time.RFC3339Nano)
	if code := runMain([]string{"reprocess", "--brokers", addr, "--group", "parse", "--from", from}, &out, &errb, env(nil)); code != 0 ||
		!strings.Contains(out.String(), "at least once and has no fence") {
		t.Fatalf("reprocess by time: exit %d\n%s%s", code, out.String(), errb.String())
	}
	raw := offsets(topology.GroupParse)[topology.TopicRaw]
	if end1, _ := ends.Lookup(topology.TopicRaw, 1); raw[0] != 3 || raw[1] != end1.Offset {
		t.Errorf("parse on logs.raw after the reset to %s: %v, want 0:3 1:%d", from, raw, end1.Offset)
	}

	// Topics the group does not read, and tables, are refused.
	for _, tc := range []struct{ topics, want string }{
		{topology.TopicRaw, "group dedupe does not read logs.raw"},
		{topology.TableTopic(topology.GroupDedupe), "is a table topic"},
	} {
		errb.Reset()
		code := runMain([]string{"reprocess", "--brokers", addr, "--group", "dedupe", "--from-offset", "0", "--topics", tc.topics}, &out, &errb, env(nil))
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("--topics %s: exit %d: %s", tc.topics, code, errb.String())
		}
	}
}
