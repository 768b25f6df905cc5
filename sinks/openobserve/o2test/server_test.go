package o2test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := decodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFlattenAsOpenObserve runs the cases shared with the writer's tests,
// most taken from OpenObserve's tests of flatten.rs.
func TestFlattenAsOpenObserve(t *testing.T) {
	b, err := os.ReadFile("../testdata/flatten.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name string          `json:"name"`
		In   json.RawMessage `json:"in"`
		Out  json.RawMessage `json:"out"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := flatten(decode(t, c.In), 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := decode(t, c.Out); !reflect.DeepEqual(any(got), want) {
				t.Errorf("flatten(%s)\n got %v\nwant %v", c.In, got, want)
			}
		})
	}
	if _, err := flatten([]any{}, 3); err == nil {
		t.Error("flatten of an array succeeded")
	}
	// Level 0 is unlimited, level 1 keeps top-level objects whole
	// (upstream test_flatten_with_level).
	in := decode(t, []byte(`{"a":{"b":{"c":{"d":1}}},"x":{"Y":2}}`))
	for level, want := range map[int]string{
		0: `{"a_b_c_d":1,"x_y":2}`,
		1: `{"a":"{\"b\":{\"c\":{\"d\":1}}}","x":"{\"Y\":2}"}`,
		2: `{"a_b":"{\"c\":{\"d\":1}}","x_y":2}`,
	} {
		got, _ := flatten(in, level)
		if !reflect.DeepEqual(any(got), decode(t, []byte(want))) {
			t.Errorf("level %d: %v, want %s", level, got, want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const us = int64(1795255200000000) // now in µs
	for _, c := range []struct {
		in    string // JSON
		want  int64
		valid bool
	}{
		{`1795255200`, us, false},             // seconds
		{`1795255200000`, us, false},          // milliseconds
		{`1795255200000000`, us, true},        // microseconds: stored as sent
		{`1795255200000000000`, us, false},    // nanoseconds
		{`1795255200.5`, us, false},           // a float: truncated, in seconds
		{`"1795255200000"`, us, false},        // a numeric string
		{`"2026-11-21T10:00:00Z"`, us, false}, // RFC 3339
		{`"2026-11-21T11:00:00+01:00"`, us, false},
		{`"2026-11-21T10:00:00"`, us, false}, // naive: UTC
		{`"2026-11-21 10:00:00"`, us, false},
		{`"2026-11-21T10:00:00.250"`, us + 250000, false},
		{`"Sat, 21 Nov 2026 10:00:00 +0000"`, us, false}, // RFC 2822
		{`0`, us, false},                                 // zero: now
	} {
		got, valid, err := parseTimestamp(decode(t, []byte(c.in)), now)
		if err != nil || got != c.want || valid != c.valid {
			t.Errorf("parseTimestamp(%s) = %d, %v, %v; want %d, %v", c.in, got, valid, err, c.want, c.valid)
		}
	}
	for _, bad := range []string{`"yesterday"`, `true`, `{"a":1}`} {
		if _, _, err := parseTimestamp(decode(t, []byte(bad)), now); err == nil {
			t.Errorf("parseTimestamp(%s) accepted", bad)
		}
	}
}

func TestParseSQL(t *testing.T) {
	q, err := parseSQL(`select kafka_offset, "Odd Col" FROM "logs" WHERE kafka_topic = 'it''s' AND kafka_partition = 3 AND kafka_offset >= -1 AND n <> 2.5 ORDER BY kafka_offset DESC, x LIMIT 7`)
	if err != nil {
		t.Fatal(err)
	}
	want := &query{
		columns: []string{"kafka_offset", "Odd Col"},
		stream:  "logs",
		where: []condition{
			{"kafka_topic", "=", "it's"}, {"kafka_partition", "=", json.Number("3")},
			{"kafka_offset", ">=", json.Number("-1")}, {"n", "<>", json.Number("2.5")},
		},
		order: []orderBy{{"kafka_offset", true}, {"x", false}},
		limit: 7,
	}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("parsed %+v\nwant %+v", q, want)
	}
	for _, bad := range []string{
		`SELECT FROM "s"`, `SELECT a FROM "s" WHERE a = `, `SELECT a FROM "s" WHERE a ! 1`,
		`SELECT a FROM "s" ORDER a`, `SELECT a FROM "s" junk`, `SELECT a FROM "s" WHERE a = 'open`,
		`DELETE FROM "s"`,
	} {
		if _, err := parseSQL(bad); err == nil {
			t.Errorf("parseSQL(%q) accepted", bad)
		}
	}
}

// client talks to a started server.
type client struct {
	t    *testing.T
	srv  *Server
	auth [2]string
}

func start(t *testing.T, opts Options) (*Server, *client) {
	t.Helper()
	s := New(opts)
	s.Start()
	t.Cleanup(s.Close)
	return s, &client{t: t, srv: s, auth: [2]string{s.opts.User, s.opts.Password}}
}

// do sends a request and returns the status and the decoded answer; status
// 0 means the connection closed without an answer.
func (c *client) do(method, path string, body []byte, gz bool) (int, map[string]any) {
	c.t.Helper()
	if gz {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(body)
		w.Close()
		body = z.Bytes()
	}
	req, err := http.NewRequest(method, c.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.auth[0], c.auth[1])
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if v, err := decodeJSON(b); err == nil {
		m, _ = v.(map[string]any)
	}
	return resp.StatusCode, m
}

func (c *client) search(sql string, start, end int64, size int) (int, map[string]any) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": map[string]any{"sql": sql, "start_time": start, "end_time": end, "size": size}, "use_cache": false})
	return c.do(http.MethodPost, "/api/default/_search", body, false)
}

func status(t *testing.T, m map[string]any) (ok, failed string, errText any) {
	t.Helper()
	st := m["status"].([]any)[0].(map[string]any)
	return st["successful"].(json.Number).String(), st["failed"].(json.Number).String(), st["error"]
}

func TestIngestJSON(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	srv, c := start(t, Options{Now: func() time.Time { return now }})
	body := `[{"Kafka.Offset":1,"msg":"a","_timestamp":"2026-11-21T09:00:00Z","nested":{"Deep":{"x":1}},"tags":["a"],"gone":null},
	          {"kafka_offset":2,"_timestamp":1795255200000},
	          {"kafka_offset":3,"_timestamp":"2026-11-21T04:00:00Z"},
	          {"kafka_offset":4,"_timestamp":"2026-11-22T11:00:00Z"},
	          {"kafka_offset":5,"_timestamp":"when"},
	          17]`
	code, m := c.do(http.MethodPost, "/api/default/My.Stream/_json", []byte(body), true)
	if code != 200 {
		t.Fatalf("HTTP %d %v", code, m)
	}
	ok, failed, errText := status(t, m)
	if ok != "2" || failed != "4" {
		t.Errorf("successful %s failed %s, want 2 and 4", ok, failed)
	}
	if m["status"].([]any)[0].(map[string]any)["name"] != "my_stream" || errText == nil {
		t.Errorf("answer %v", m)
	}
	docs := srv.Docs("default", "My.Stream")
	want := []map[string]any{
		{"kafka_offset": json.Number("1"), "msg": "a", "_timestamp": json.Number("1795251600000000"), "nested_deep_x": json.Number("1"), "tags": `["a"]`},
		{"kafka_offset": json.Number("2"), "_timestamp": json.Number("1795255200000000")},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Errorf("stored\n%v\nwant\n%v", docs, want)
	}
	// One object, not an array.
	if code, m := c.do(http.MethodPost, "/api/default/my_stream/_json", []byte(`{"kafka_offset":6}`), false); code != 200 {
		t.Errorf("object: HTTP %d %v", code, m)
	}
	if n := len(srv.Docs("default", "my_stream")); n != 3 {
		t.Errorf("%d docs", n)
	}
	// Too old and too far carry OpenObserve's texts.
	_, m = c.do(http.MethodPost, "/api/default/s/_json", []byte(`[{"_timestamp":"2026-11-20T10:00:00Z"}]`), false)
	if _, _, e := status(t, m); !strings.Contains(e.(string), "ZO_INGEST_ALLOWED_UPTO") {
		t.Errorf("too old: %v", e)
	}
	_, m = c.do(http.MethodPost, "/api/default/s/_json", []byte(`[{"_timestamp":"2026-11-23T10:00:00Z"}]`), false)
	if _, _, e := status(t, m); !strings.Contains(e.(string), "ZO_INGEST_ALLOWED_IN_FUTURE") {
		t.Errorf("too far: %v", e)
	}
	// Not JSON, and poison: 400, nothing written.
	for _, b := range []string{`[{"a":`, `[{"ok":1},{"Poison":true}]`} {
		if code, _ := c.do(http.MethodPost, "/api/default/s/_json", []byte(b), false); code != 400 {
			t.Errorf("%s: HTTP %d, want 400", b, code)
		}
	}
	if len(srv.Docs("default", "s")) != 0 || srv.Stats().BadRequests != 2 {
		t.Errorf("docs %v, bad requests %d", srv.Docs("default", "s"), srv.Stats().BadRequests)
	}
}

func TestColumnLimit(t *testing.T) {
	srv, c := start(t, Options{ColumnLimit: 4})
	// 3 fields each (with _timestamp), 5 in the union: over the limit.
	_, m := c.do(http.MethodPost, "/api/default/s/_json", []byte(`[{"a":1,"b":1},{"c":1,"d":1}]`), false)
	if ok, failed, _ := status(t, m); ok != "0" || failed != "0" {
		t.Errorf("successful %s failed %s, want 0 and 0", ok, failed)
	}
	if len(srv.Docs("default", "s")) != 0 {
		t.Error("stored over the column limit")
	}
	_, m = c.do(http.MethodPost, "/api/default/s/_json", []byte(`[{"a":1,"b":1},{"a":2,"c":1}]`), false)
	if ok, _, _ := status(t, m); ok != "2" {
		t.Errorf("within the limit: successful %s", ok)
	}
}

func TestIngestBulk(t *testing.T) {
	now := time.Now()
	srv, c := start(t, Options{Now: func() time.Time { return now }})
	old := now.Add(-6 * time.Hour).UnixMicro()
	body := `{"index":{"_index":"Bulk.S","_id":"a"}}
{"kafka_offset":1,"Msg":"x"}
{"create":{"_index":"bulk_s","_id":"b"}}
{"kafka_offset":2,"_timestamp":` + jsonInt(old) + `}
{"delete":{"_index":"bulk_s"}}
{"index":{"_index":"other"}}
{"kafka_offset":3}
`
	code, m := c.do(http.MethodPost, "/api/default/_bulk", []byte(body), true)
	if code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	items := m["items"].([]any)
	if len(items) != 3 || m["errors"] != true {
		t.Fatalf("answer %v", m)
	}
	statuses := map[string]string{}
	for _, it := range items {
		for _, v := range it.(map[string]any) {
			v := v.(map[string]any)
			statuses[v["_id"].(string)] = v["status"].(json.Number).String()
		}
	}
	if !reflect.DeepEqual(statuses, map[string]string{"a": "200", "b": "422", "": "200"}) {
		t.Errorf("statuses %v", statuses)
	}
	docs := srv.Docs("default", "bulk_s")
	if len(docs) != 1 || docs[0]["_id"] != "a" || docs[0]["msg"] != "x" {
		t.Errorf("bulk_s holds %v", docs)
	}
	if len(srv.Docs("default", "other")) != 1 {
		t.Error("the other stream was not written")
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestSearch(t *testing.T) {
	srv, c := start(t, Options{})
	now := time.Now().UnixMicro()
	var docs []map[string]any
	for i := range 10 {
		docs = append(docs, map[string]any{"kafka_topic": "t", "kafka_partition": i % 2, "kafka_offset": i, "_timestamp": now + int64(i)})
	}
	docs = append(docs, map[string]any{"kafka_topic": "t", "kafka_partition": 0, "kafka_offset": 4, "_timestamp": now + 4})
	if err := srv.Put("default", "logs", docs...); err != nil {
		t.Fatal(err)
	}
	offsets := func(m map[string]any) []string {
		var out []string
		for _, h := range m["hits"].([]any) {
			out = append(out, h.(map[string]any)["kafka_offset"].(json.Number).String())
		}
		return out
	}
	sql := `SELECT kafka_offset FROM "logs" WHERE kafka_topic = 't' AND kafka_partition = 0 AND kafka_offset >= 2 AND kafka_offset <= 8 ORDER BY kafka_offset`
	code, m := c.search(sql, now, now+100, 100)
	if code != 200 || m["is_partial"] != false {
		t.Fatalf("HTTP %d %v", code, m)
	}
	if got := offsets(m); !reflect.DeepEqual(got, []string{"2", "4", "4", "6", "8"}) {
		t.Errorf("hits %v", got)
	}
	// size, and the time range (end exclusive).
	if _, m := c.search(sql, now, now+100, 2); !reflect.DeepEqual(offsets(m), []string{"2", "4"}) {
		t.Errorf("size 2: %v", offsets(m))
	}
	if _, m := c.search(sql, now+3, now+6, 100); !reflect.DeepEqual(offsets(m), []string{"4", "4"}) {
		t.Errorf("time range: %v", offsets(m))
	}
	// OpenObserve's errors for a missing stream and a missing column.
	for q, want := range map[string]float64{
		`SELECT kafka_offset FROM "nope"`:             20002,
		`SELECT kafka_offset FROM "logs" WHERE x = 1`: 20004,
		`SELECT FROM`: 20001,
	} {
		code, m := c.search(q, 0, now+100, 10)
		if code != 400 || m["code"].(json.Number).String() != jsonInt(int64(want)) {
			t.Errorf("%s: HTTP %d %v", q, code, m)
		}
	}
	srv.InjectSearch(SearchPartial, SearchUnavailable)
	if _, m := c.search(sql, now, now+100, 100); m["is_partial"] != true {
		t.Errorf("partial fault: %v", m)
	}
	if code, _ := c.search(sql, now, now+100, 100); code != 503 {
		t.Errorf("unavailable fault: HTTP %d", code)
	}
}

func TestAuthAndOrgs(t *testing.T) {
	srv, c := start(t, Options{Orgs: []string{"default", "team"}})
	if code, m := c.do(http.MethodGet, "/api/team/streams", nil, false); code != 200 || m["list"] == nil {
		t.Errorf("streams: HTTP %d %v", code, m)
	}
	if code, _ := c.do(http.MethodGet, "/api/nope/streams", nil, false); code != 404 {
		t.Errorf("unknown org: HTTP %d", code)
	}
	c.auth[1] = "wrong"
	if code, _ := c.do(http.MethodPost, "/api/default/s/_json", []byte(`{}`), false); code != 401 {
		t.Errorf("bad password: HTTP %d", code)
	}
	if srv.Stats().Unauthorized != 1 {
		t.Errorf("stats %+v", srv.Stats())
	}
}

// TestFaults: each scripted fault does what it says, and the random ones
// follow the seed.
func TestFaults(t *testing.T) {
	srv, c := start(t, Options{RetryAfter: 3, SlowDelay: 20 * time.Millisecond})
	body := []byte(`[{"n":1},{"n":2},{"n":3},{"n":4}]`)
	for _, f := range []struct {
		fault  Fault
		code   int
		stored int
		counts string // successful/failed of a 200
	}{
		{Fault{Kind: FaultUnavailable}, 503, 0, ""},
		{Fault{Kind: FaultTooManyRequests}, 429, 0, ""},
		{Fault{Kind: FaultInternalError}, 500, 0, ""},
		{Fault{Kind: FaultLostResponse}, 0, 4, ""},
		{Fault{Kind: FaultPartialOK, K: 1}, 200, 1, "1/3"},
		{Fault{Kind: FaultPartialError, K: 2}, 500, 2, ""},
		{Fault{Kind: FaultPartialLost, K: 3}, 0, 3, ""},
		{Fault{Kind: FaultZeroZero}, 200, 0, "0/0"},
		{Fault{Kind: FaultFalseSuccess}, 200, 0, "4/0"},
		{Fault{Kind: FaultLate}, 200, 4, "4/0"}, // this client waits: written and answered after SlowDelay
		{Fault{Kind: FaultNone}, 200, 4, "4/0"},
	} {
		before := len(srv.Docs("default", "f"))
		srv.Inject(f.fault)
		code, m := c.do(http.MethodPost, "/api/default/f/_json", body, false)
		stored := len(srv.Docs("default", "f")) - before
		if code != f.code || stored != f.stored {
			t.Errorf("%v: HTTP %d, %d stored; want %d, %d", f.fault.Kind, code, stored, f.code, f.stored)
		}
		if f.counts != "" {
			ok, failed, _ := status(t, m)
			if ok+"/"+failed != f.counts {
				t.Errorf("%v: counts %s/%s, want %s", f.fault.Kind, ok, failed, f.counts)
			}
		}
	}
	// Random faults: the same seed gives the same sequence.
	sequence := func(seed uint64) []FaultKind {
		s := New(Options{Seed: seed, Faults: Faults{Unavailable: 0.2, ZeroZero: 0.2, PartialOK: 0.2}})
		var out []FaultKind
		for range 50 {
			out = append(out, s.nextFault(3).Kind)
		}
		return out
	}
	a, b, other := sequence(7), sequence(7), sequence(8)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, other) {
		t.Errorf("fault sequences: seed 7 %v, again %v, seed 8 %v", a, b, other)
	}
	// A random partial 200 needs two records.
	s := New(Options{Faults: Faults{PartialOK: 1}})
	if k := s.nextFault(1).Kind; k != FaultNone {
		t.Errorf("a single record got %v", k)
	}
}

// TestTransportWaitsForTheServer: a request whose client gives up is still
// written (FaultLate, as OpenObserve finishes a request whose client
// disconnected); through Transport the client's error comes only once
// that write is done, however late the server is.
func TestTransportWaitsForTheServer(t *testing.T) {
	for _, path := range []string{"/api/default/late/_json", "/api/default/_bulk"} {
		t.Run(path, func(t *testing.T) {
			srv, _ := start(t, Options{SlowDelay: time.Minute})
			body := `[{"n":1},{"n":2}]`
			if strings.HasSuffix(path, "_bulk") {
				body = "{\"index\":{\"_index\":\"late\"}}\n{\"n\":1}\n{\"index\":{\"_index\":\"late\"}}\n{\"n\":2}\n"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(DefaultUser, DefaultPassword)
			srv.Inject(Fault{Kind: FaultLate})
			client := &http.Client{Transport: srv.Transport(nil)}
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("HTTP %d, want no answer", resp.StatusCode)
			}
			if n := len(srv.Docs("default", "late")); n != 2 {
				t.Fatalf("%d records stored when the client got its error, want 2: the server was not done", n)
			}
			// The transport goes on working after a connection it closed.
			next, err := http.NewRequest(http.MethodGet, srv.URL()+"/api/default/streams", nil)
			if err != nil {
				t.Fatal(err)
			}
			next.SetBasicAuth(DefaultUser, DefaultPassword)
			resp, err := client.Do(next)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("next request: HTTP %d", resp.StatusCode)
			}
		})
	}
}
