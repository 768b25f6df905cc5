package topology_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/topology"
)

type kafkaTopic struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		TopicName  string            `yaml:"topicName"`
		Partitions int               `yaml:"partitions"`
		Replicas   int               `yaml:"replicas"`
		Config     map[string]string `yaml:"config"`
	} `yaml:"spec"`
}

func decodeKafkaTopics(t *testing.T, s string) []kafkaTopic {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(s))
	dec.KnownFields(true)
	var out []kafkaTopic
	for {
		var kt kafkaTopic
		err := dec.Decode(&kt)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding the Strimzi output: %v\n%s", err, s)
		}
		out = append(out, kt)
	}
}

func TestStrimziTopics(t *testing.T) {
	tp, err := topology.New(topology.Config{Partitions: 12, Replication: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeKafkaTopics(t, tp.Strimzi())
	if len(got) != len(tp.Topics()) {
		t.Fatalf("%d KafkaTopics for %d topics", len(got), len(tp.Topics()))
	}
	loopMs := "604800000" // topology.LoopRetention, 7 days
	for i, kt := range got {
		want := tp.Topics()[i]
		if kt.APIVersion != "kafka.strimzi.io/v1beta2" || kt.Kind != "KafkaTopic" {
			t.Errorf("%s: %s %s", want.Name, kt.APIVersion, kt.Kind)
		}
		if kt.Spec.TopicName != want.Name || kt.Metadata.Name != want.Name || kt.Spec.Partitions != 12 || kt.Spec.Replicas != 3 {
			t.Errorf("%s: got %+v", want.Name, kt)
		}
		policy := kt.Spec.Config["cleanup.policy"]
		switch {
		case want.Kind == topology.Table && policy != "compact":
			t.Errorf("table %s: cleanup.policy %q", want.Name, policy)
		case want.Kind == topology.Stream && policy != "delete":
			t.Errorf("stream %s: cleanup.policy %q", want.Name, policy)
		}
		ret, hasRet := kt.Spec.Config["retention.ms"]
		if loop := strings.HasSuffix(want.Name, "-loop"); loop != hasRet || hasRet && ret != loopMs {
			t.Errorf("%s: retention.ms %q (loop %v)", want.Name, ret, loop)
		}
	}
}

// TestStrimziTopicsPassTheStagesCheck creates every topic as the Strimzi
// resources declare it, then runs the stages' own start-up check
// (goka's topic manager, failing on a mismatch): topics declared by the
// operator must be accepted as they are.
func TestStrimziTopicsPassTheStagesCheck(t *testing.T) {
	tp, err := topology.New(topology.Config{Partitions: 3, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, mutate func(*kafkaTopic)) error {
		e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, kt := range decodeKafkaTopics(t, tp.Strimzi()) {
			mutate(&kt)
			cfg := map[string]*string{}
			for k, v := range kt.Spec.Config {
				cfg[k] = kadm.StringPtr(v)
			}
			res, err := adm.CreateTopic(ctx, int32(kt.Spec.Partitions), int16(kt.Spec.Replicas), cfg, kt.Spec.TopicName)
			if err == nil {
				err = res.Err
			}
			if err != nil {
				t.Fatalf("creating %s: %v", kt.Spec.TopicName, err)
			}
		}
		return broker.EnsureTopics([]string{e.Addr()}, broker.Tuning{Replication: 1}, tp.StreamPartitions(), tp.TablePartitions())
	}
	t.Run("as declared", func(t *testing.T) {
		if err := create(t, func(*kafkaTopic) {}); err != nil {
			t.Fatalf("the stages refuse the declared topics: %v", err)
		}
	})
	t.Run("loop retention differs", func(t *testing.T) {
		err := create(t, func(kt *kafkaTopic) {
			if strings.HasSuffix(kt.Spec.TopicName, "-loop") {
				kt.Spec.Config["retention.ms"] = "3600000"
			}
		})
		if err == nil || !strings.Contains(err.Error(), "retention.ms") {
			t.Fatalf("a loop topic with another retention was accepted: %v", err)
		}
	})
	t.Run("table not compacted", func(t *testing.T) {
		err := create(t, func(kt *kafkaTopic) {
			if strings.HasSuffix(kt.Spec.TopicName, "-table") {
				kt.Spec.Config["cleanup.policy"] = "delete"
			}
		})
		if err == nil || !strings.Contains(err.Error(), "cleanup.policy") {
			t.Fatalf("a table that is not compacted was accepted: %v", err)
		}
	})
}

func TestStrimziIsStable(t *testing.T) {
	tp, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := tp.Strimzi(), tp.Strimzi(); !bytes.Equal([]byte(a), []byte(b)) {
		t.Fatal("two renderings differ")
	}
}
