package codecs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/logstream/logstream/schemas"
)

var spliceJoins = []JoinFields{
	{},
	{SpanService: "payments", SpanOperation: "POST /charge", SpanDurationUs: ptr(int64(1834)), SpanStatus: "ERROR",
		RootOperation: "checkout", JoinStatus: schemas.JoinJoined},
	{JoinStatus: schemas.JoinTimeout, SpanDurationUs: ptr(int64(-1))},
}

// checkSplice: what ScanLogEvent accepts decodes, and splicing it is
// exactly decoding, setting the join fields and encoding; a record this
// codec wrote (labels within the scan's 64) is accepted.
func checkSplice(t *testing.T, c *Codec[schemas.LogEvent], data []byte, mustScan bool) {
	t.Helper()
	s, ok := ScanLogEvent(c, data)
	ev, err := c.Unmarshal(data)
	switch {
	case ok && err != nil:
		t.Fatalf("scan accepted %x, which does not decode: %v", data, err)
	case !ok && mustScan:
		t.Fatalf("scan refused %x, written by the codec", data)
	case !ok:
		return
	}
	if got, want := s.HasID, ev.SpanID != nil; got != want || (want && s.SpanID != *ev.SpanID) {
		t.Fatalf("span id: scan %v %q, decode %v", got, s.SpanID, ev.SpanID)
	}
	have := JoinFields{ev.SpanService, ev.SpanOperation, ev.SpanDurationUs, ev.SpanStatus, ev.RootOperation, ev.JoinStatus}
	if !exactEqual(s.Join, have) {
		t.Fatalf("join fields: scan %+v, decode %+v", s.Join, have)
	}
	for _, j := range spliceJoins {
		e := *ev
		e.SpanService, e.SpanOperation, e.SpanDurationUs = j.SpanService, j.SpanOperation, j.SpanDurationUs
		e.SpanStatus, e.RootOperation, e.JoinStatus = j.SpanStatus, j.RootOperation, j.JoinStatus
		want := mustBytes(c.Marshal(&e))
		prefix := []byte("dst")
		got := s.AppendLogEvent(bytes.Clone(prefix), data, j)
		if !bytes.Equal(got[:3], prefix) {
			t.Fatalf("splice overwrote dst: %q", got[:3])
		}
		// What the codec wrote comes out byte for byte as decoding and
		// encoding would write it (but for the order of map keys, which
		// Marshal takes from Go's map); other bytes (a map in several
		// blocks) keep their form and decode the same.
		if mustScan && len(ev.Labels) <= 1 && !bytes.Equal(got[3:], want) {
			t.Fatalf("splice of a %d-byte record with %+v: %d bytes differ from the %d of decode+encode", len(data), j, len(got)-3, len(want))
		}
		back, err := c.Unmarshal(got[3:])
		if err != nil {
			t.Fatalf("splice of a %d-byte record with %+v does not decode: %v", len(data), j, err)
		}
		if !exactEqual(back, &e) {
			t.Fatalf("splice of a %d-byte record with %+v decodes to\n%+v\nnot\n%+v", len(data), j, back, &e)
		}
		if n := s.Size(j); len(got)-3 > n {
			t.Fatalf("Size %d < %d appended", n, len(got)-3)
		}
	}
}

func TestScanLogEvent(t *testing.T) {
	c := mustSet(t).LogEvent
	fixtures := []*schemas.LogEvent{fullLogEvent(), goldenLogEvent(), benchEvent(), {}}
	alb := &schemas.LogEvent{EventID: "e", Labels: map[string]string{}} // an ALB line has 17 labels
	for i := range 20 {
		alb.Labels[fmt.Sprintf("label_%d", i)] = "v"
	}
	for _, v := range append(fixtures, alb) {
		checkSplice(t, c, mustBytes(c.Marshal(v)), true)
	}
	for _, seed := range typedSeeds() {
		v := randLogEvent(rand.New(rand.NewPCG(seed, 15)))
		checkSplice(t, c, mustBytes(c.Marshal(v)), len(v.Labels) <= 64)
	}
	for _, data := range typedCorpus(t, c, randLogEvent, fixtures...) {
		checkSplice(t, c, data, false)
	}

	t.Run("refused", func(t *testing.T) {
		ev := goldenLogEvent()
		v2, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 2))
		if err != nil {
			t.Fatal(err)
		}
		confluent, err := NewLogEvent(WithWire(WireConfluent))
		if err != nil {
			t.Fatal(err)
		}
		own := mustBytes(c.Marshal(ev))
		dup := map[string]string{"a": "1", "b": "2"}
		withDup := mustBytes(c.Marshal(&schemas.LogEvent{Labels: dup}))
		// Write key "b" as "a": the same length, so the record stays well framed.
		i := bytes.Index(withDup, []byte{2, 'b'})
		if i < 0 {
			t.Fatalf("no key b in %x", withDup)
		}
		withDup[i+1] = 'a'
		for name, data := range map[string][]byte{
			"older version":  mustBytes(v2.Marshal(ev)),
			"other framing":  mustBytes(confluent.Marshal(ev)),
			"trailing byte":  cat(own, []byte{0}),
			"cut":            own[:len(own)-1],
			"repeated label": withDup,
		} {
			if _, ok := ScanLogEvent(c, data); ok {
				t.Errorf("%s: scan accepted %x", name, data)
			}
		}
		if _, err := c.Unmarshal(withDup); err == nil {
			t.Error("the codec decodes a record with a repeated label key; the scan should then accept it too")
		}
	})
}

func FuzzScanLogEvent(f *testing.F) {
	c := mustSet(f).LogEvent
	seedCorpus(f, typedValid(f, c, randLogEvent, fullLogEvent(), goldenLogEvent())...)
	f.Fuzz(func(t *testing.T, data []byte) { checkSplice(t, c, data, false) })
}
