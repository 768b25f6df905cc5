package watermark

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Headers. HeaderKind's value KindWatermark marks a record that carries
// only stamps (its value repeats them, for people reading the topic).
const (
	HeaderStamp   = "ls-wm"
	HeaderKind    = "ls-kind"
	KindWatermark = "wm"
)

// Kind is what a stamp says of its channel.
type Kind uint8

// Kinds of stamps, and of channels in a Tracker.
const (
	// Unknown: nothing heard yet (a Tracker's channel only).
	Unknown Kind = iota
	// Time: every event of the channel older than Time has been sent.
	Time
	// Idle: the channel has nothing to send; it does not hold the
	// watermark back.
	Idle
	// Hold: the channel is alive but cannot vouch for any time yet (its
	// own inputs are not all known); it holds the watermark back.
	Hold
)

func (k Kind) String() string {
	switch k {
	case Time:
		return "time"
	case Idle:
		return "idle"
	case Hold:
		return "hold"
	}
	return "unknown"
}

// Stamp is one channel's progress.
type Stamp struct {
	// Channel names where the progress was measured: "<topic>/<partition>".
	Channel string
	Kind    Kind
	// Time is the event time (ms since the epoch) the channel vouches for:
	// for Kind Time, and for Kind Idle the time it had reached when it went
	// quiet (0: none).
	Time int64
	// Seq grows along the channel (an offset of its topic): a stamp with a
	// lower Seq than one already applied is older.
	Seq int64
}

// Channel returns the channel name of a topic's partition. The stages
// name their input's channel on every event, so the names of the first
// channelRow partitions of a topic are made once and kept.
func Channel(topic string, partition int32) string {
	if partition < 0 || partition >= channelRow {
		return channelName(topic, partition)
	}
	if row := (*channelNames.Load())[topic]; row != nil {
		return row[partition]
	}
	channelMu.Lock()
	defer channelMu.Unlock()
	old := *channelNames.Load()
	row := old[topic]
	if row == nil {
		row = new([channelRow]string)
		for i := range row {
			row[i] = channelName(topic, int32(i))
		}
		m := make(map[string]*[channelRow]string, len(old)+1)
		for k, v := range old {
			m[k] = v
		}
		m[topic] = row
		channelNames.Store(&m)
	}
	return row[partition]
}

const channelRow = 256

var (
	channelMu sync.Mutex
	// channelNames maps a topic to its channels' names; replaced whole
	// (under channelMu) when a topic comes, so readers take no lock.
	channelNames = func() *atomic.Pointer[map[string]*[channelRow]string] {
		p := new(atomic.Pointer[map[string]*[channelRow]string])
		p.Store(&map[string]*[channelRow]string{})
		return p
	}()
)

func channelName(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}

// SplitChannel returns a channel's topic and partition.
func SplitChannel(ch string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(ch, '/')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(ch[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, false
	}
	return ch[:i], int32(p), true
}

func (s Stamp) append(b []byte) []byte {
	b = append(b, s.Channel...)
	b = append(b, ':')
	switch s.Kind {
	case Time:
		b = strconv.AppendInt(b, s.Time, 10)
	case Idle:
		b = append(b, "idle"...)
		if s.Time != 0 {
			b = append(b, '=')
			b = strconv.AppendInt(b, s.Time, 10)
		}
	default:
		b = append(b, "hold"...)
	}
	b = append(b, ':')
	return strconv.AppendInt(b, s.Seq, 10)
}

// String is the stamp's header form.
func (s Stamp) String() string { return string(s.append(nil)) }

// Encode returns the header value of stamps.
func Encode(stamps ...Stamp) []byte {
	var b []byte
	for i, s := range stamps {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.append(b)
	}
	return b
}

// ErrMalformed is wrapped by Decode's errors.
var ErrMalformed = errors.New("watermark: malformed stamp")

// Decode parses a header value of stamps; an empty value has none.
func Decode(b []byte) ([]Stamp, error) {
	if len(b) == 0 {
		return nil, nil
	}
	// One string for all the stamps' channels, and the slice sized from
	// the commas: every relayed event is decoded here, at every stage.
	all := string(b)
	out := make([]Stamp, 0, strings.Count(all, ",")+1)
	for {
		p, rest, more := strings.Cut(all, ",")
		s, err := decodeOne(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if !more {
			return out, nil
		}
		all = rest
	}
}

func decodeOne(p string) (Stamp, error) {
	last := strings.LastIndexByte(p, ':')
	if last <= 0 {
		return Stamp{}, fmt.Errorf("%w: %q", ErrMalformed, p)
	}
	mid := strings.LastIndexByte(p[:last], ':')
	if mid <= 0 {
		return Stamp{}, fmt.Errorf("%w: %q", ErrMalformed, p)
	}
	seq, err := strconv.ParseInt(p[last+1:], 10, 64)
	if err != nil {
		return Stamp{}, fmt.Errorf("%w: %q", ErrMalformed, p)
	}
	s := Stamp{Channel: p[:mid], Seq: seq}
	if _, _, ok := SplitChannel(s.Channel); !ok {
		return Stamp{}, fmt.Errorf("%w: channel %q", ErrMalformed, s.Channel)
	}
	switch v := p[mid+1 : last]; {
	case v == "idle":
		s.Kind = Idle
	case strings.HasPrefix(v, "idle="):
		t, err := strconv.ParseInt(v[len("idle="):], 10, 64)
		if err != nil {
			return Stamp{}, fmt.Errorf("%w: %q", ErrMalformed, p)
		}
		s.Kind, s.Time = Idle, t
	case v == "hold":
		s.Kind = Hold
	default:
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Stamp{}, fmt.Errorf("%w: %q", ErrMalformed, p)
		}
		s.Kind, s.Time = Time, t
	}
	return s, nil
}

// Future reports whether an event at eventTime (ms) is further than
// maxFuture ahead of the time its record was written: record, the record's
// timestamp, or now when the record has none. The record's time, not the
// wall clock, so that a backlog read hours later decides as live traffic
// did; the earlier of the two, so that a producer that stamps records
// with the event's own time cannot vouch for a clock gone wrong.
func Future(eventTime int64, record, now time.Time, maxFuture time.Duration) bool {
	ref := now
	if record.UnixMilli() > 0 && record.Before(now) {
		ref = record
	}
	return eventTime > ref.UnixMilli()+maxFuture.Milliseconds()
}
