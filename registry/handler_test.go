package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

var (
	subjRaw    = ValueSubject(topology.TopicRaw)
	subjParsed = ValueSubject(topology.TopicParsed)
	subjDLQ    = ValueSubject(topology.TopicDLQ)
	subjTable  = ValueSubject(topology.TableTopic(topology.GroupParse))
)

// call sends one request to h and checks what every response must be: the
// registry's content type and a JSON body.
func call(t *testing.T, h http.Handler, method, path, body string, hdr ...string) (int, http.Header, any) {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ContentType)
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	if ct := res.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("%s %s: Content-Type %q, want %q", method, path, ct, ContentType)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, path, res.StatusCode, err, rec.Body.Bytes())
	}
	return res.StatusCode, res.Header, v
}

// jsonOf is v as encoding/json reads it back, for comparisons.
func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func version(sub string, s schemas.Schema, text string) map[string]any {
	return map[string]any{"subject": sub, "version": s.Version, "id": s.ID, "schema": text}
}

func TestHandlerReads(t *testing.T) {
	cat := embedded(t)
	h := newHandler(t, cat)
	ev := record(t, cat, schemas.NameLogEvent)
	if len(ev.Versions) < 2 {
		t.Fatalf("LogEvent has %d versions; this test wants at least 2", len(ev.Versions))
	}
	v1, latest := ev.Versions[0], ev.Latest()
	raw := record(t, cat, schemas.NameRawLog)
	span := record(t, cat, schemas.NameSpan).Latest() // a record no topic carries
	allSubjects := subjectNames(t, cat)
	latestVersions := []any{}
	for _, sub := range subjectsOf(t, cat, schemas.NameLogEvent) {
		latestVersions = append(latestVersions, map[string]any{"subject": sub, "version": latest.Version})
	}
	versionList := []int{}
	everyVersion := []any{}
	for _, s := range ev.Versions {
		versionList = append(versionList, s.Version)
		everyVersion = append(everyVersion, version(subjParsed, s, compact(t, s)))
	}

	cases := []struct {
		path string
		want any
	}{
		{"/", map[string]any{}},
		{"/subjects", allSubjects},
		{"/subjects/", allSubjects},
		{"/subjects?subjectPrefix=logs.p", []string{subjParsed}},
		{"/subjects?subjectPrefix=nothing", []string{}},
		{"/subjects/" + subjParsed + "/versions", versionList},
		{"/subjects/" + subjParsed + "/versions/1", version(subjParsed, v1, compact(t, v1))},
		{"/subjects/" + subjParsed + "/versions/latest", version(subjParsed, latest, compact(t, latest))},
		{"/subjects/" + subjParsed + "/versions/-1", version(subjParsed, latest, compact(t, latest))},
		{fmt.Sprintf("/subjects/%s/versions/%d", subjParsed, latest.Version), version(subjParsed, latest, compact(t, latest))},
		{"/subjects/" + subjRaw + "/versions/latest", version(subjRaw, raw.Latest(), compact(t, raw.Latest()))},
		{"/subjects/" + subjParsed + "/versions/1/referencedby", []int{}},
		{fmt.Sprintf("/schemas/ids/%d", v1.ID), map[string]any{"schema": compact(t, v1)}},
		{fmt.Sprintf("/schemas/ids/%d/versions", latest.ID), latestVersions},
		{fmt.Sprintf("/schemas/ids/%d/subjects", latest.ID), subjectsOf(t, cat, schemas.NameLogEvent)},
		// Every manifest id is served, also of a record no subject lists.
		{fmt.Sprintf("/schemas/ids/%d", span.ID), map[string]any{"schema": compact(t, span)}},
		{fmt.Sprintf("/schemas/ids/%d/subjects", span.ID), []string{}},
		{fmt.Sprintf("/schemas/ids/%d/versions", span.ID), []any{}},
		{"/schemas/types", []string{"AVRO"}},
		{"/schemas?subjectPrefix=" + subjParsed, everyVersion},
		{"/schemas?latestOnly=true&subjectPrefix=" + subjParsed, []any{version(subjParsed, latest, compact(t, latest))}},
		{"/config", map[string]any{"compatibilityLevel": "FULL_TRANSITIVE"}},
		{"/config/" + subjParsed, map[string]any{"compatibilityLevel": string(ev.Mode)}},
		{"/config/unknown-value?defaultToGlobal=true", map[string]any{"compatibilityLevel": "FULL_TRANSITIVE"}},
		{"/mode", map[string]any{"mode": "READONLY"}},
		{"/mode/" + subjParsed, map[string]any{"mode": "READONLY"}},
		{"/mode/unknown-value?defaultToGlobal=true", map[string]any{"mode": "READONLY"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			status, _, got := call(t, h, http.MethodGet, c.path, "")
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200: %v", status, got)
			}
			if want := jsonOf(t, c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}

	// The /schema endpoints answer the schema itself, not a string.
	for _, path := range []string{
		fmt.Sprintf("/subjects/%s/versions/%d/schema", subjParsed, latest.Version),
		fmt.Sprintf("/schemas/ids/%d/schema", latest.ID),
	} {
		_, _, got := call(t, h, http.MethodGet, path, "")
		var want any
		if err := json.Unmarshal([]byte(latest.JSON), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: not the schema of %s", path, latest.File)
		}
	}

	// The whole registry: every version of every subject, once.
	_, _, got := call(t, h, http.MethodGet, "/schemas", "")
	n := 0
	for _, sub := range allSubjects {
		r := Subjects(mustTopics(t), cat)[sub]
		n += len(r.Versions)
	}
	if l := len(got.([]any)); l != n {
		t.Errorf("GET /schemas lists %d schemas, want %d", l, n)
	}

	// Confluent's clients send these Accept headers; HEAD works as GET.
	for _, acc := range []string{accept, "application/json", "*/*", "application/vnd.schemaregistry+json"} {
		if status, _, _ := call(t, h, http.MethodGet, "/subjects", "", "Accept", acc); status != http.StatusOK {
			t.Errorf("Accept %q: status %d", acc, status)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/subjects", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ContentType {
		t.Errorf("HEAD /subjects: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// mustTopics returns the default topology's topics, less the spans topic:
// the tests want one record (Span) that no subject lists.
func mustTopics(t testing.TB) []topology.Topic {
	t.Helper()
	top, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var out []topology.Topic
	for _, tp := range top.Topics() {
		if tp.Name != topology.TopicSpans {
			out = append(out, tp)
		}
	}
	return out
}

// subjectsOf lists, sorted, the subjects whose record is name.
func subjectsOf(t testing.TB, cat *schemas.Catalog, name string) []string {
	t.Helper()
	var out []string
	for s, r := range Subjects(mustTopics(t), cat) {
		if r.Name == name {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// The served text is the .avsc compacted: the same schema, the same
// fingerprint.
func TestHandlerServesCatalogFingerprints(t *testing.T) {
	cat := embedded(t)
	h := newHandler(t, cat)
	for _, s := range cat.Schemas() {
		_, _, got := call(t, h, http.MethodGet, fmt.Sprintf("/schemas/ids/%d", s.ID), "")
		text := got.(map[string]any)["schema"].(string)
		if strings.ContainsAny(text, "\n\t") {
			t.Errorf("id %d: the schema is not on one line", s.ID)
		}
		if _, err := goavro.NewCodec(text); err != nil {
			t.Fatalf("id %d: %v", s.ID, err)
		}
		fp, err := schemas.Fingerprint(text)
		if err != nil {
			t.Fatalf("id %d: %v", s.ID, err)
		}
		if fp != s.Fingerprint {
			t.Errorf("id %d (%s): fingerprint %016x, want %016x", s.ID, s.File, fp, s.Fingerprint)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	cat := embedded(t)
	h := newHandler(t, cat)
	ev := record(t, cat, schemas.NameLogEvent)
	next := len(ev.Versions) + 1
	cases := []struct {
		method, path string
		status, code int
		msg          string // in the message
	}{
		{"GET", "/subjects/unknown-value/versions", 404, 40401, "Subject 'unknown-value' not found."},
		{"GET", "/subjects/unknown-value/versions/1", 404, 40401, "Subject 'unknown-value' not found."},
		{"GET", "/subjects/unknown-value/versions/latest/schema", 404, 40401, "not found"},
		{"GET", "/subjects/" + subjParsed + "%2Fx/versions", 404, 40401, "Subject '" + subjParsed + "/x' not found."},
		{"GET", fmt.Sprintf("/subjects/%s/versions/%d", subjParsed, next), 404, 40402, fmt.Sprintf("Version %d not found.", next)},
		{"GET", fmt.Sprintf("/subjects/%s/versions/%d/schema", subjParsed, next), 404, 40402, "not found"},
		{"GET", "/subjects/" + subjParsed + "/versions/0", 422, 42202, "'0' is not a valid version id"},
		{"GET", "/subjects/" + subjParsed + "/versions/-2", 422, 42202, "not a valid version id"},
		{"GET", "/subjects/" + subjParsed + "/versions/first", 422, 42202, "not a valid version id"},
		{"GET", "/subjects/" + subjParsed + "/versions/4294967296", 422, 42202, "not a valid version id"},
		{"GET", "/schemas/ids/9999", 404, 40403, "Schema 9999 not found"},
		{"GET", "/schemas/ids/x", 404, 40403, "Schema x not found"},
		{"GET", "/schemas/ids/9999/versions", 404, 40403, "not found"},
		{"GET", "/schemas/ids/9999/subjects", 404, 40403, "not found"},
		{"GET", "/schemas/ids/9999/schema", 404, 40403, "not found"},
		{"GET", "/config/unknown-value", 404, 40408, "does not have subject-level compatibility configured"},
		{"GET", "/mode/unknown-value", 404, 40409, "does not have subject-level mode configured"},
		{"GET", "/nothing", 404, 404, "HTTP 404 Not Found"},
		{"GET", "/subjects/" + subjParsed + "/versions/1/schema/more", 404, 404, "HTTP 404 Not Found"},
		{"GET", "/compatibility/subjects/" + subjParsed + "/versions/latest", 405, 405, "HTTP 405 Method Not Allowed"},
		{"POST", "/schemas/ids/1", 405, 405, "HTTP 405 Method Not Allowed"},
		{"PATCH", "/subjects", 405, 405, "HTTP 405 Method Not Allowed"},
		{"PUT", "/subjects/" + subjParsed + "/versions", 405, 405, "HTTP 405 Method Not Allowed"},
		// Writes: read-only, whatever they name.
		{"DELETE", "/subjects/" + subjParsed, 422, 42205, "read-only"},
		{"DELETE", "/subjects/" + subjParsed + "/versions/1", 422, 42205, "read-only"},
		{"PUT", "/config", 422, 42205, "read-only"},
		{"DELETE", "/config", 422, 42205, "read-only"},
		{"PUT", "/config/" + subjParsed, 422, 42205, "read-only"},
		{"DELETE", "/config/" + subjParsed, 422, 42205, "read-only"},
		{"PUT", "/mode", 422, 42205, "read-only"},
		{"PUT", "/mode/" + subjParsed, 422, 42205, "read-only"},
		{"DELETE", "/mode/" + subjParsed, 422, 42205, "read-only"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			status, hdr, got := call(t, h, c.method, c.path, "")
			checkError(t, status, got, c.status, c.code, c.msg)
			if c.status == 405 {
				if allow := hdr.Get("Allow"); allow == "" || strings.Contains(allow, c.method) {
					t.Errorf("Allow %q", allow)
				}
			}
			if c.code == 42205 && !strings.Contains(got.(map[string]any)["message"].(string), "schemas/") {
				t.Errorf("the read-only message does not say where schemas change: %v", got)
			}
		})
	}
	_, hdr, _ := call(t, h, "POST", "/schemas/ids/1", "")
	if got := hdr.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("POST /schemas/ids/1: Allow %q, want GET, HEAD", got)
	}
}

func checkError(t *testing.T, status int, got any, wantStatus, wantCode int, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d: %v", status, wantStatus, got)
	}
	body, ok := got.(map[string]any)
	if !ok || len(body) != 2 {
		t.Fatalf("body %v, want {error_code, message}", got)
	}
	if code, _ := body["error_code"].(float64); int(code) != wantCode {
		t.Errorf("error_code %v, want %d", body["error_code"], wantCode)
	}
	if m, _ := body["message"].(string); !strings.Contains(m, msg) {
		t.Errorf("message %q does not contain %q", m, msg)
	}
}

func schemaBody(t *testing.T, schema string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"schema": schema})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerLookupAndRegister(t *testing.T) {
	cat := embedded(t)
	h := newHandler(t, cat)
	ev := record(t, cat, schemas.NameLogEvent)
	v1 := ev.Versions[0]

	// The same schema with other whitespace, without its docs and with its
	// attributes in another order is the same schema: the parsing canonical
	// form leaves all that out.
	var doc map[string]any
	if err := json.Unmarshal([]byte(v1.JSON), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "doc")
	for _, f := range doc["fields"].([]any) {
		delete(f.(map[string]any), "doc")
	}
	restated, _ := json.Marshal(doc)

	for _, body := range []string{schemaBody(t, v1.JSON), schemaBody(t, string(restated)),
		`{"schema":` + jsonString(t, v1.JSON) + `,"schemaType":"AVRO","references":[]}`} {
		status, _, got := call(t, h, "POST", "/subjects/"+subjParsed, body)
		if status != 200 {
			t.Fatalf("lookup: %d %v", status, got)
		}
		if want := jsonOf(t, version(subjParsed, v1, compact(t, v1))); !reflect.DeepEqual(got, want) {
			t.Errorf("lookup: got %v\nwant %v", got, want)
		}
		// Registering a version the subject has answers its id.
		status, _, got = call(t, h, "POST", "/subjects/"+subjParsed+"/versions", body)
		if status != 200 || !reflect.DeepEqual(got, jsonOf(t, map[string]int{"id": v1.ID})) {
			t.Errorf("register an existing version: %d %v, want {\"id\": %d}", status, got, v1.ID)
		}
	}

	raw := record(t, cat, schemas.NameRawLog).Latest()
	changed := strings.Replace(ev.Latest().JSON, `"fields": [`, `"fields": [{"name": "extra", "type": "string", "default": ""},`, 1)
	if changed == ev.Latest().JSON {
		t.Fatal("could not change the schema")
	}
	cases := []struct {
		method, path, body string
		status, code       int
		msg                string
	}{
		{"POST", "/subjects/" + subjParsed, schemaBody(t, raw.JSON), 404, 40403, "Schema not found"},
		{"POST", "/subjects/unknown-value", schemaBody(t, v1.JSON), 404, 40401, "Subject 'unknown-value' not found."},
		{"POST", "/subjects/" + subjParsed, schemaBody(t, `{"type": "record"}`), 422, 42201, "Invalid schema"},
		{"POST", "/subjects/" + subjParsed, schemaBody(t, ""), 422, 42201, "Empty schema"},
		{"POST", "/subjects/" + subjParsed, `{"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}`, 422, 42201, "PROTOBUF"},
		{"POST", "/subjects/" + subjParsed, `{"schema": `, 400, 400, "not a schema request"},
		{"POST", "/subjects/" + subjParsed + "/versions", schemaBody(t, changed), 422, 42205, "Subject '" + subjParsed + "' is in read-only mode"},
		{"POST", "/subjects/" + subjParsed + "/versions", schemaBody(t, raw.JSON), 422, 42205, "read-only"},
		{"POST", "/subjects/unknown-value/versions", schemaBody(t, v1.JSON), 422, 42205, "read-only"},
		{"POST", "/subjects/" + subjParsed + "/versions", schemaBody(t, "{"), 422, 42201, "Invalid schema"},
	}
	for _, c := range cases {
		status, _, got := call(t, h, c.method, c.path, c.body)
		checkError(t, status, got, c.status, c.code, c.msg)
	}
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A record's compatibility file is its subject's compatibility level.
func TestHandlerSubjectConfig(t *testing.T) {
	m := catalogFS(t)
	m["rawlog/"+schemas.CompatibilityFile] = &fstest.MapFile{Data: []byte("# shippers may lag\nBACKWARD\n")}
	h := newHandler(t, loadCatalog(t, m))
	for sub, want := range map[string]string{subjRaw: "BACKWARD", subjParsed: "FULL_TRANSITIVE", subjTable: "FULL_TRANSITIVE"} {
		status, _, got := call(t, h, "GET", "/config/"+sub, "")
		if status != 200 || !reflect.DeepEqual(got, map[string]any{"compatibilityLevel": want}) {
			t.Errorf("GET /config/%s: %d %v, want %s", sub, status, got, want)
		}
	}
}

func TestSubjects(t *testing.T) {
	cat := embedded(t)
	topics := append(mustTopics(t),
		topology.Topic{Name: "bench.passthrough", Record: ""},
		topology.Topic{Name: "other", Record: "NotARecord"},
		topology.Topic{Name: "spans", Record: "logstream.Span"}, // a full name works too
	)
	got := map[string]string{}
	for sub, r := range Subjects(topics, cat) {
		got[sub] = r.Name
	}
	want := map[string]string{"spans-value": schemas.NameSpan}
	for _, tp := range mustTopics(t) {
		if tp.Record != "" {
			want[ValueSubject(tp.Name)] = tp.Record
		}
	}
	if want[subjRaw] != schemas.NameRawLog || want[subjParsed] != schemas.NameLogEvent || want[subjDLQ] != schemas.NameDeadLetter || want[subjTable] != schemas.NameParseState {
		t.Fatalf("the topology's records changed: %v", want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Subjects = %v, want %v", got, want)
	}
}

func TestNewHandlerRejects(t *testing.T) {
	cat := embedded(t)
	ev := record(t, cat, schemas.NameLogEvent)
	noVersions := ev
	noVersions.Versions = nil
	wrongID := ev
	wrongID.Versions = append([]schemas.Schema(nil), ev.Versions...)
	wrongID.Versions[0].ID = 9999
	swapped := ev
	swapped.Versions = []schemas.Schema{ev.Versions[1], ev.Versions[0]}
	for name, subjects := range map[string]map[string]schemas.Record{
		"no versions":  {subjParsed: noVersions},
		"unknown id":   {subjParsed: wrongID},
		"out of order": {subjParsed: swapped},
		"empty name":   {"": ev},
	} {
		if _, err := NewHandler(cat, subjects); err == nil || !strings.HasPrefix(err.Error(), "registry: ") {
			t.Errorf("%s: err = %v, want a registry: error", name, err)
		}
	}
	if _, err := NewHandler(nil, nil); err == nil {
		t.Error("NewHandler(nil, nil) did not fail")
	}
}

// POST /compatibility tests a candidate schema as Confluent's registry does,
// with the record's mode (FULL_TRANSITIVE for LogEvent).
func TestHandlerCompatibility(t *testing.T) {
	cat := embedded(t)
	h := newHandler(t, cat)
	latest := record(t, cat, schemas.NameLogEvent).Latest().JSON
	addDefaulted := strings.Replace(latest, `"fields": [`, `"fields": [{"name": "zone", "type": "string", "default": ""},`, 1)
	addRequired := strings.Replace(latest, `"fields": [`, `"fields": [{"name": "zone", "type": "string"},`, 1)
	if addDefaulted == latest || addRequired == latest {
		t.Fatal("the test's edit did not apply")
	}
	for _, c := range []struct {
		path, schema string
		want         bool
		msg          string
	}{
		{"/compatibility/subjects/" + subjParsed + "/versions?verbose=true", addDefaulted, true, ""},
		{"/compatibility/subjects/" + subjParsed + "/versions/latest?verbose=true", addDefaulted, true, ""},
		{"/compatibility/subjects/" + subjParsed + "/versions?verbose=true", addRequired, false, "cannot read version 1"},
		{"/compatibility/subjects/" + subjParsed + "/versions/2?verbose=true", addRequired, false, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	} {
		status, _, got := call(t, h, "POST", c.path, schemaBody(t, c.schema))
		m, _ := got.(map[string]any)
		if status != 200 || m["is_compatible"] != c.want {
			t.Fatalf("%s: %d %v, want is_compatible %v", c.path, status, got, c.want)
		}
		if msgs := fmt.Sprint(m["messages"]); c.msg != "" && !strings.Contains(msgs, c.msg) {
			t.Errorf("%s: messages %s lack %q", c.path, msgs, c.msg)
		}
	}
	if status, _, _ := call(t, h, "POST", "/compatibility/subjects/nope-value/versions", schemaBody(t, latest)); status != 404 {
		t.Errorf("unknown subject: %d", status)
	}
}
