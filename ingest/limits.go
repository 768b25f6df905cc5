package ingest

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultMaxRecordBytes is Kafka's own default of message.max.bytes: the
// limit assumed when the brokers answer neither for the topic nor for
// themselves.
const DefaultMaxRecordBytes = 1048588

// recordOverhead bounds, generously, what a record batch holding one record
// adds to its key and value: the v2 batch header (61 bytes), the record's
// own varint framing (length, attributes, timestamp and offset deltas, key
// and value lengths, header count: at most 36 bytes) and slack. Compression
// adds nothing: the client sends a batch uncompressed when compressing does
// not make it smaller.
const recordOverhead = 256

// RecordLimit is the largest record batch, in bytes, the brokers accept on
// a set of topics, and where that number came from.
type RecordLimit struct {
	Bytes int
	// From says where Bytes came from: "max.message.bytes of TOPIC",
	// "message.max.bytes of broker N", or "default".
	From string
}

// AskRecordLimit asks the brokers for the smallest record limit of
// topics: a topic's own max.message.bytes where it has one (set on the
// topic), else the broker's message.max.bytes, which is what a broker
// applies to a topic without one; else what the topic reports; else
// DefaultMaxRecordBytes. It never fails: a limit that cannot be asked is
// assumed, and From says so.
//
// The client that produces must build no larger batches: give it
// kgo.ProducerBatchMaxBytes(limit.Bytes), or a batch of many short lines
// can exceed what the broker accepts.
func AskRecordLimit(ctx context.Context, adm *kadm.Client, topics ...string) RecordLimit {
	lim := RecordLimit{}
	take := func(n int, from string) {
		if lim.Bytes == 0 || n < lim.Bytes {
			lim = RecordLimit{Bytes: n, From: from}
		}
	}
	var (
		broker     int
		brokerFrom string
		asked      bool
	)
	fromBroker := func() (int, string) {
		if !asked {
			broker, brokerFrom = brokerLimit(ctx, adm)
			asked = true
		}
		return broker, brokerFrom
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	for _, t := range topics {
		own, reported := 0, 0
		if err == nil {
			if rc, rerr := rcs.On(t, nil); rerr == nil && rc.Err == nil {
				for _, c := range rc.Configs {
					if c.Key != "max.message.bytes" {
						continue
					}
					if n, ok := positive(c.Value); ok {
						reported = n
						if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
							own = n
						}
					}
				}
			}
		}
		switch b, from := fromBroker(); {
		case own > 0:
			take(own, "max.message.bytes of "+t)
		case b > 0:
			take(b, from)
		case reported > 0:
			take(reported, "max.message.bytes of "+t)
		default:
			take(DefaultMaxRecordBytes, "default")
		}
	}
	if lim.Bytes == 0 {
		if b, from := fromBroker(); b > 0 {
			return RecordLimit{Bytes: b, From: from}
		}
		return RecordLimit{Bytes: DefaultMaxRecordBytes, From: "default"}
	}
	return lim
}

// brokerLimit is the first broker's message.max.bytes; 0 when it does not
// answer.
func brokerLimit(ctx context.Context, adm *kadm.Client) (int, string) {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil || len(brokers) == 0 {
		return 0, ""
	}
	id := brokers[0].NodeID
	rcs, err := adm.DescribeBrokerConfigs(ctx, id)
	if err != nil {
		return 0, ""
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "message.max.bytes" {
				if n, ok := positive(c.Value); ok {
					return n, "message.max.bytes of broker " + strconv.Itoa(int(id))
				}
			}
		}
	}
	return 0, ""
}

func positive(v *string) (int, bool) {
	if v == nil {
		return 0, false
	}
	n, err := strconv.Atoi(*v)
	return n, err == nil && n > 0
}

// clientLimit is the largest record batch cl itself builds for topic
// (ProducerBatchMaxBytes): a record over it fails in the client with
// MESSAGE_TOO_LARGE before any broker sees it.
func clientLimit(cl *kgo.Client, topic string) int {
	if fn, ok := cl.OptValue(kgo.ProducerBatchMaxBytesFn).(func(string) int32); ok && fn != nil {
		return int(fn(topic))
	}
	return DefaultMaxRecordBytes
}

// firstInvalidUTF8 returns the offset of the first byte of s that does not
// belong to a valid UTF-8 sequence, or -1 when s is valid UTF-8.
func firstInvalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1 // not reached: ValidString said otherwise
}

// cutUTF8 returns the longest prefix of the valid UTF-8 string s that is at
// most n bytes and ends on a rune boundary.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// String is the limit for messages: "1,048,588 bytes (max.message.bytes
// of logs.raw)".
func (l RecordLimit) String() string {
	return fmt.Sprintf("%s bytes (%s)", commas(int64(l.Bytes)), l.From)
}
