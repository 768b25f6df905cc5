package openobserve_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve"
	"github.com/logstream/logstream/sinks/openobserve/o2test"
)

type printDeadLetters struct{}

func (printDeadLetters) Send(_ context.Context, r *kgo.Record, cause error) error {
	fmt.Println("dead letter:", r.Offset)
	return nil
}

// Example writes a partition's records the way sinks.Runner drives a
// writer: Add, Flush when Full or Due, commit Committable.
func Example() {
	srv := o2test.New(o2test.Options{})
	srv.Start()
	defer srv.Close()
	set, err := codecs.NewSet()
	if err != nil {
		panic(err)
	}

	cfg := openobserve.DefaultConfig()
	cfg.URL, cfg.Org, cfg.Stream = srv.URL(), "default", "logs"
	cfg.User, cfg.Password = o2test.DefaultUser, o2test.DefaultPassword
	cfg.Decoder = sinks.NewDecoder(set)
	sink, err := openobserve.New(cfg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := sink.Check(ctx); err != nil {
		panic(err)
	}
	w, err := sink.NewPartition("logs.enriched", 0, printDeadLetters{})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	for off := int64(0); off < 3; off++ {
		v, err := set.LogEvent.Marshal(&schemas.LogEvent{EventID: fmt.Sprint("e", off), Timestamp: time.Now().UnixMilli(), Host: "web-1", Message: "GET /"})
		if err != nil {
			panic(err)
		}
		if err := w.Add(ctx, &kgo.Record{Topic: "logs.enriched", Offset: off, Value: v}); err != nil {
			panic(err)
		}
	}
	_ = w.Add(ctx, &kgo.Record{Topic: "logs.enriched", Offset: 3, Value: []byte("not avro")})
	if err := w.Flush(ctx, true); err != nil {
		panic(err)
	}
	fmt.Println("commit offset:", w.Committable())
	fmt.Println("stored:", len(srv.Docs("default", "logs")))
	// Output:
	// dead letter: 3
	// commit offset: 4
	// stored: 3
}
