package registry

import (
	"testing"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// A pod built before the newest LogEvent version reads records a newer pod
// wrote, in either wire format, with the schema fetched through the Client:
// by id for the Confluent format, by fingerprint for single-object.
func TestClientAsCodecsSource(t *testing.T) {
	cat := embedded(t)
	ev := record(t, cat, schemas.NameLogEvent)
	if len(ev.Versions) < 2 {
		t.Fatalf("LogEvent has %d version(s); this test needs two", len(ev.Versions))
	}
	want := &schemas.LogEvent{EventID: "e1", Timestamp: 1793534407123, Host: "web-1", Level: schemas.LevelError, Message: "boom", Cluster: "eu-west-1"}
	for _, c := range []struct {
		wire    codecs.Wire
		fetches string // the request that must have been made
	}{
		{codecs.WireConfluent, "GET /schemas/ids/"},
		{codecs.WireSingleObject, "GET /subjects"},
	} {
		srv, log := serveTest(t, newHandler(t, cat))
		newer, err := codecs.NewLogEvent(codecs.WithWire(c.wire))
		if err != nil {
			t.Fatal(err)
		}
		old, err := codecs.NewLogEvent(codecs.WithVersion(schemas.NameLogEvent, len(ev.Versions)-1), codecs.WithSource(newClient(t, srv.URL)))
		if err != nil {
			t.Fatal(err)
		}
		data, err := newer.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := old.Unmarshal(data)
		if err != nil {
			t.Fatalf("%s: %v", c.wire, err)
		}
		if got.EventID != want.EventID || got.Host != want.Host || got.Level != want.Level || got.Message != want.Message || got.Timestamp != want.Timestamp {
			t.Errorf("%s: got %+v, want %+v", c.wire, got, want)
		}
		if log.count(c.fetches) == 0 {
			t.Errorf("%s: no %s request: %v", c.wire, c.fetches, log.paths)
		}
	}
}
