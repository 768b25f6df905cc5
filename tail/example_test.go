package tail_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/tail"
)

// Print what a topic holds, from its start to its current end, as
// `logstream tail logs.parsed --from-beginning -e` does.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	set, err := codecs.NewSet()
	if err != nil {
		panic(err)
	}

	// A topic with one LogEvent and one plain line in it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.DefaultProduceTopic("logs.parsed"))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "logs.parsed"); err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ev, err := set.LogEvent.Marshal(&schemas.LogEvent{
		EventID: "e1", Timestamp: at.UnixMilli(), Host: "web-1", Level: schemas.LevelWarn,
		Message: "disk 91% full", Cluster: "eu-1",
	})
	if err != nil {
		panic(err)
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Key: []byte("e1"), Value: ev, Timestamp: at},
		&kgo.Record{Key: []byte("web-2"), Value: []byte("kernel: eth0 link down"), Timestamp: at},
	).FirstErr(); err != nil {
		panic(err)
	}

	sum, err := tail.Run(ctx, tail.Config{
		Brokers:       []string{e.Addr()},
		Topic:         "logs.parsed",
		FromBeginning: true,
		ExitAtEnd:     true,
		Codecs:        set,
	}, os.Stdout)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", sum)
	// Output:
	// {"topic":"logs.parsed","partition":0,"offset":0,"timestamp":"2026-11-01T12:00:00Z","key":"e1","schema":"LogEvent v4","wire":"single-object","value":{"cluster":"eu-1","event_id":"e1","format":"","host":"web-1","http_status":null,"join_status":"","k8s_container":null,"k8s_namespace":null,"k8s_pod":null,"labels":{},"latency_ms":null,"level":"WARN","masked":0,"message":"disk 91% full","parse_error":null,"root_operation":"","service":"","source":"","span_duration_us":null,"span_id":null,"span_operation":"","span_service":"","span_status":"","stack":null,"timestamp":"2026-11-01T12:00:00Z","trace_id":null}}
	// {"topic":"logs.parsed","partition":0,"offset":1,"timestamp":"2026-11-01T12:00:00Z","key":"web-2","wire":"plain","value":"kernel: eth0 link down"}
	// {Records:2 Decoded:1 Plain:1 Failed:0 Tombstones:0 Watermarks:0 OutputClosed:false}
}
