package codecs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/schemas"
)

// Round trips with Apache Avro's reference implementation in Python (the
// avro module, Debian package python3-avro): testdata/oracle/avro_oracle.py
// reads what logstream writes and writes what logstream reads, in
// single-object encoding. The library's own limits (it resolves no aliases,
// enum defaults or string<->bytes, reads no writer union as a non-union,
// matches named types by full name and array items and map values by type
// before resolving them) keep those evolutions out of the Python run; see
// gen.python and gen.keepType.

// pythonAvro returns a Python 3 that imports avro, skipping the test when
// there is none (failing it in CI, where `make test` installs one).
func pythonAvro(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	// A python3 first on PATH (a virtualenv, pyenv) may not see the Debian
	// package; the system one does.
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import avro.compatibility, avro.io, avro.schema").Run() == nil {
			return p
		}
	}
	const msg = "no python3 with Apache Avro's Python library (Debian package python3-avro); `make test` installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type pyJob struct {
	ID     string `json:"id"`
	Op     string `json:"op"`
	Writer string `json:"writer"`
	Reader string `json:"reader,omitempty"`
	Data   string `json:"data,omitempty"`
	Datum  any    `json:"datum,omitempty"`
	Out    string `json:"out,omitempty"`
	Plain  bool   `json:"plain,omitempty"`
}

type pyResult struct {
	ID         string   `json:"id"`
	OK         bool     `json:"ok"`
	Error      string   `json:"error"`
	Value      any      `json:"value"`
	FPHeader   string   `json:"fp_header"`
	FPSpec     string   `json:"fp_spec"`
	FPLibrary  string   `json:"fp_library"`
	Compatible bool     `json:"compatible"`
	Rules      []string `json:"rules"`
}

// pyOracle collects jobs for one run of avro_oracle.py.
type pyOracle struct {
	t       *testing.T
	python  string
	dir     string
	jobs    []pyJob
	schemas map[string]string // schema text → file
	outs    map[string]string // job id → file Python writes
}

func newPyOracle(t *testing.T) *pyOracle {
	return &pyOracle{t: t, python: pythonAvro(t), dir: t.TempDir(), schemas: map[string]string{}, outs: map[string]string{}}
}

func (o *pyOracle) file(name string, data []byte) string {
	path := filepath.Join(o.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		o.t.Fatal(err)
	}
	return path
}

func (o *pyOracle) schemaFile(text string) string {
	if p, ok := o.schemas[text]; ok {
		return p
	}
	p := o.file(fmt.Sprintf("schema%d.avsc", len(o.schemas)), []byte(text))
	o.schemas[text] = p
	return p
}

// read asks Python to read data (single-object) written with writer as
// reader.
func (o *pyOracle) read(id, writer, reader string, data []byte) {
	o.jobs = append(o.jobs, pyJob{ID: id, Op: "read", Writer: o.schemaFile(writer), Reader: o.schemaFile(reader),
		Data: o.file(fmt.Sprintf("data%d.bin", len(o.jobs)), data)})
}

// write asks Python to write datum (tagged) with writer; plain leaves the
// union branches to the library.
func (o *pyOracle) write(id, writer string, datum any, plain bool) {
	out := filepath.Join(o.dir, fmt.Sprintf("out%d.bin", len(o.jobs)))
	o.outs[id] = out
	o.jobs = append(o.jobs, pyJob{ID: id, Op: "write", Writer: o.schemaFile(writer), Datum: datum, Out: out, Plain: plain})
}

func (o *pyOracle) compat(id, writer, reader string) {
	o.jobs = append(o.jobs, pyJob{ID: id, Op: "compat", Writer: o.schemaFile(writer), Reader: o.schemaFile(reader)})
}

// run runs every job and returns the results by id, and the bytes each
// write job wrote.
func (o *pyOracle) run() (map[string]pyResult, map[string][]byte) {
	o.t.Helper()
	manifest, err := json.Marshal(map[string]any{"jobs": o.jobs})
	if err != nil {
		o.t.Fatal(err)
	}
	mpath := o.file("manifest.json", manifest)
	rpath := filepath.Join(o.dir, "results.json")
	script, err := filepath.Abs(filepath.Join("testdata", "oracle", "avro_oracle.py"))
	if err != nil {
		o.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, o.python, script, mpath, rpath).CombinedOutput(); err != nil {
		o.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	raw, err := os.ReadFile(rpath)
	if err != nil {
		o.t.Fatal(err)
	}
	var list []pyResult
	if err := json.Unmarshal(raw, &list); err != nil {
		o.t.Fatal(err)
	}
	results := make(map[string]pyResult, len(list))
	for _, r := range list {
		results[r.ID] = r
	}
	written := map[string][]byte{}
	for id, path := range o.outs {
		if r := results[id]; r.OK {
			if written[id], err = os.ReadFile(path); err != nil {
				o.t.Fatal(err)
			}
		}
	}
	return results, written
}

// pyTagged turns v, goavro's native form of schema n, into the tagged JSON
// avro_oracle.py reads.
func pyTagged(n *node, v any) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("%T %v is not a %s", v, v, n.describe()) }
	if hasGoLogical(n) {
		var tag string
		var x int64
		switch t := v.(type) {
		case time.Time:
			tag, x = "ts_us", t.UnixMicro()
			if n.logical == "date" {
				tag, x = "date_days", t.Unix()/86400
			}
		case time.Duration:
			tag, x = "time_us", t.Microseconds()
		case int64: // the codecs' native form carries timestamp-millis so
			tag, x = "ts_us", t*1000
		default:
			return bad()
		}
		return map[string]any{tag: strconv.FormatInt(x, 10)}, nil
	}
	switch n.kind {
	case kindNull, kindBoolean:
		return v, nil
	case kindInt, kindLong:
		switch x := v.(type) {
		case int32:
			return map[string]any{"int": strconv.FormatInt(int64(x), 10)}, nil
		case int64:
			return map[string]any{"int": strconv.FormatInt(x, 10)}, nil
		}
	case kindFloat, kindDouble:
		var d float64
		switch x := v.(type) {
		case float32:
			d = float64(x)
		case float64:
			d = x
		default:
			return bad()
		}
		return map[string]any{"float": strconv.FormatFloat(d, 'g', -1, 64)}, nil
	case kindString, kindEnum:
		if s, ok := v.(string); ok {
			return map[string]any{"str": s}, nil
		}
	case kindBytes, kindFixed:
		if b, ok := v.([]byte); ok {
			return map[string]any{"bytes": hex.EncodeToString(b)}, nil
		}
	case kindArray:
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := make([]any, len(list))
		for i, x := range list {
			y, err := pyTagged(n.items, x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return map[string]any{"list": out}, nil
	case kindMap, kindRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		out := make(map[string]any, len(m))
		if n.kind == kindMap {
			for k, x := range m {
				y, err := pyTagged(n.values, x)
				if err != nil {
					return nil, err
				}
				out[k] = y
			}
		} else {
			for _, f := range n.fields {
				y, err := pyTagged(f.typ, m[f.name])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f.name, err)
				}
				out[f.name] = y
			}
		}
		return map[string]any{"dict": out}, nil
	case kindUnion:
		if v == nil {
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return bad()
		}
		for name, x := range m {
			for _, b := range n.branches {
				if b.typeName() == name {
					y, err := pyTagged(b, x)
					if err != nil {
						return nil, err
					}
					return map[string]any{"union": name, "v": y}, nil
				}
			}
		}
	}
	return bad()
}

// fingerprintSource supplies schemas by fingerprint, as a registry would
// to a pod pinned to an older version.
type fingerprintSource map[uint64]string

func (s fingerprintSource) SchemaByFingerprint(_ context.Context, fp uint64) (string, error) {
	if text, ok := s[fp]; ok {
		return text, nil
	}
	return "", ErrSchemaNotFound
}

func (s fingerprintSource) SchemaByID(context.Context, int) (string, error) {
	return "", ErrSchemaNotFound
}

func pythonLogEvents() []*schemas.LogEvent {
	full := fullLogEvent()
	full.Cluster = "prod-eu-1"
	dur := int64(3_012_000)
	full.SpanService, full.SpanOperation, full.SpanDurationUs = "payments", "db.query", &dur
	full.SpanStatus, full.RootOperation, full.JoinStatus = "ERROR", "POST /v1/charges", schemas.JoinJoined
	return []*schemas.LogEvent{
		full,
		{EventID: "e2", Timestamp: 0, Host: "h", Level: schemas.LevelUnknown, Message: ""},
		{
			EventID: "e3", Timestamp: -1_000_000_123, Host: "ünïcødé-✓", Service: "日本",
			Level: schemas.LevelFatal, Message: "line\nwith \"quotes\" and 🙂", HTTPStatus: ptr(int32(math.MinInt32)),
			LatencyMs: ptr(math.NaN()), Labels: map[string]string{"": "empty key", "k": ""},
			ParseError: ptr(""), Format: "none", Cluster: "us-east-1",
		},
		{
			// The last millisecond of 9999, the latest Python's datetime holds.
			EventID: "e4", Timestamp: 253402300799999, Host: "h4", Level: schemas.LevelDebug,
			Message: "m", LatencyMs: ptr(math.Inf(-1)), HTTPStatus: ptr(int32(math.MaxInt32)),
			TraceID: ptr("4bf92f3577b34da6a3ce929d0e0e4736"), Cluster: "",
		},
	}
}

// logEventNative is the native form of ev as version w writes it and
// version r reads it: a v1 writer carries no cluster (it reads as ""), a
// v1 reader has none.
func logEventNative(t *testing.T, ev *schemas.LogEvent, w, r int) map[string]any {
	t.Helper()
	m, err := logEventToNative(ev)
	if err != nil {
		t.Fatal(err)
	}
	m["timestamp"] = time.UnixMilli(ev.Timestamp).UTC()
	// Fields by the version that added them, with their defaults: a writer
	// older than the field yields the default, a reader older drops it.
	added := []struct {
		version int
		name    string
		def     any
	}{
		{2, "cluster", ""},
		{3, "span_service", ""}, {3, "span_operation", ""}, {3, "span_duration_us", nil},
		{3, "span_status", ""}, {3, "root_operation", ""}, {3, "join_status", ""},
		{4, "stack", nil}, {4, "masked", int32(0)},
	}
	for _, a := range added {
		if w < a.version {
			m[a.name] = a.def
		}
		if r < a.version {
			delete(m, a.name)
		}
	}
	return m
}

// logEventVersions lists every version of LogEvent, 1 … latest.
func logEventVersions(t *testing.T) []int {
	t.Helper()
	latest, err := NewLogEvent()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, latest.Version().Version)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestPythonOracleLogEvent(t *testing.T) {
	o := newPyOracle(t)
	codecs := map[int]*Codec[schemas.LogEvent]{}
	nodes := map[int]*node{}
	versions := logEventVersions(t)
	for _, v := range versions {
		c, err := NewLogEvent(WithVersion(schemas.NameLogEvent, v))
		if err != nil {
			t.Fatal(err)
		}
		codecs[v] = c
		if nodes[v], err = parseSchema(c.Schema()); err != nil {
			t.Fatal(err)
		}
	}
	events := pythonLogEvents()
	written := map[string][]byte{} // job id → what the codec wrote
	for i, ev := range events {
		for _, w := range versions {
			data, err := codecs[w].Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range versions {
				id := fmt.Sprintf("read event %d v%d as v%d", i, w, r)
				written[id] = data
				o.read(id, codecs[w].Schema(), codecs[r].Schema(), data)
			}
			datum, err := pyTagged(nodes[w], logEventNative(t, ev, w, w))
			if err != nil {
				t.Fatal(err)
			}
			o.write(fmt.Sprintf("write event %d v%d", i, w), codecs[w].Schema(), datum, true)
		}
	}
	results, pyWritten := o.run()

	// logstream → Python.
	for i, ev := range events {
		for _, w := range versions {
			for _, r := range versions {
				id := fmt.Sprintf("read event %d v%d as v%d", i, w, r)
				res := results[id]
				if !res.OK {
					t.Errorf("%s: Python: %s", id, res.Error)
					continue
				}
				// The header has the specification's fingerprint (the
				// script's own Parsing Canonical Form, as Java writes it);
				// avro 1.11's canonical form, like goavro's, keeps a
				// logical type's primitive as {"type":"long"} and so gives
				// the legacy fingerprint.
				want := fmt.Sprintf("%016x", codecs[w].Fingerprint())
				legacy := fmt.Sprintf("%016x", codecs[w].Version().LegacyFingerprint)
				if res.FPHeader != want || res.FPSpec != want || res.FPLibrary != legacy {
					t.Errorf("%s: header fingerprint %s, the specification's (Python) %s, Python's avro %s; want the codec's %s and the legacy %s",
						id, res.FPHeader, res.FPSpec, res.FPLibrary, want, legacy)
				}
				wantNorm, err := flavorGoavro.norm(nodes[r], nil, logEventNative(t, ev, w, r))
				if err != nil {
					t.Fatal(err)
				}
				got, err := flavorPython.norm(nodes[r], nil, res.Value)
				if err != nil {
					t.Errorf("%s: Python read %v: %v", id, res.Value, err)
					continue
				}
				if got != wantNorm {
					t.Errorf("%s:\nPython: %s\nwant:   %s", id, got, wantNorm)
				}
				// NewResolver reads the same bytes the same way.
				rs, err := NewResolver(codecs[w].Schema(), codecs[r].Schema())
				if err != nil {
					t.Fatal(err)
				}
				v, err := rs.Decode(written[id][headerLen:])
				if err != nil {
					t.Fatalf("%s: Resolver: %v", id, err)
				}
				if s, err := flavorGoavro.norm(nodes[r], nil, v); err != nil || s != wantNorm {
					t.Errorf("%s: Resolver read %s (%v), want %s", id, s, err, wantNorm)
				}
			}
		}
	}
	// Python → logstream: every codec reads what Python wrote with any
	// version; an older codec finds a newer version through a schema
	// source, as a pinned pod would through the registry. Python's avro
	// writes the legacy fingerprint (its canonical form is goavro's), as
	// logstream did before: those records must still decode, built-in
	// versions and fetched ones alike (the registry client indexes both
	// fingerprints, as this source does).
	source := fingerprintSource{}
	for _, v := range versions {
		source[codecs[v].Fingerprint()] = codecs[v].Schema()
		source[codecs[v].Version().LegacyFingerprint] = codecs[v].Schema()
	}
	readers := map[int]*Codec[schemas.LogEvent]{}
	for _, v := range versions {
		c, err := NewLogEvent(WithVersion(schemas.NameLogEvent, v), WithSource(source))
		if err != nil {
			t.Fatal(err)
		}
		readers[v] = c
	}
	for i, ev := range events {
		for _, w := range versions {
			id := fmt.Sprintf("write event %d v%d", i, w)
			if res := results[id]; !res.OK {
				t.Errorf("%s: Python: %s", id, res.Error)
				continue
			}
			data := pyWritten[id]
			if legacy := codecs[w].Version().LegacyFingerprint; !bytes.Equal(data[:2], []byte{0xC3, 0x01}) || binary.LittleEndian.Uint64(data[2:headerLen]) != legacy {
				t.Errorf("%s: header % x, want C3 01 and the legacy fingerprint %016x", id, data[:headerLen], legacy)
				continue
			}
			for _, r := range versions {
				got, err := readers[r].Unmarshal(data)
				if err != nil {
					t.Errorf("%s, read by the v%d codec: %v", id, r, err)
					continue
				}
				want := *ev
				if min(w, r) < 2 {
					want.Cluster = ""
				}
				if min(w, r) < 3 {
					want.SpanService, want.SpanOperation, want.SpanDurationUs = "", "", nil
					want.SpanStatus, want.RootOperation, want.JoinStatus = "", "", ""
				}
				if nan := math.NaN(); got.LatencyMs != nil && math.IsNaN(*got.LatencyMs) && math.IsNaN(*ev.LatencyMs) {
					// A NaN's payload does not survive the tagged JSON.
					got.LatencyMs, want.LatencyMs = &nan, &nan
				}
				if !logEventEqual(got, &want) {
					t.Errorf("%s, read by the v%d codec:\ngot  %+v\nwant %+v", id, r, got, &want)
				}
				rs, err := NewResolver(codecs[w].Schema(), codecs[r].Schema())
				if err != nil {
					t.Fatal(err)
				}
				v, err := rs.Decode(data[headerLen:])
				if err != nil {
					t.Errorf("%s: Resolver to v%d: %v", id, r, err)
					continue
				}
				gotNorm, err1 := flavorGoavro.norm(nodes[r], nil, v)
				wantNorm, err2 := flavorGoavro.norm(nodes[r], nil, logEventNative(t, ev, w, r))
				if err1 != nil || err2 != nil || gotNorm != wantNorm {
					t.Errorf("%s: Resolver to v%d: %s (%v), want %s (%v)", id, r, gotNorm, err1, wantNorm, err2)
				}
			}
		}
	}
}

// pythonSeeds are the generated cases Python reads and writes; they are
// restricted to what the library resolves (gen.python).
func pythonSeeds() []uint64 {
	seeds := make([]uint64, 200)
	for i := range seeds {
		seeds[i] = uint64(5000 + i)
	}
	return seeds
}

func TestPythonOracleGenerated(t *testing.T) {
	o := newPyOracle(t)
	type prepared struct {
		c        *genCase
		wn, rn   *node
		res      *Resolver
		goavroed [][]byte // single-object, goavro's encoding of c.data
	}
	var cases []*prepared
	for _, seed := range pythonSeeds() {
		c := newGen(seed, true).makeCase(seed, 0)
		p := &prepared{c: c}
		var err error
		if p.wn, err = parseSchema(c.writerJSON); err != nil {
			t.Fatal(err)
		}
		if p.rn, err = parseSchema(c.readerJSON); err != nil {
			t.Fatal(err)
		}
		if p.res, err = NewResolver(c.writerJSON, c.readerJSON); err != nil {
			t.Fatalf("seed %d: NewResolver: %v", seed, err)
		}
		if len(p.res.Issues) > 0 {
			t.Fatalf("seed %d: a compatible evolution, but %v\nwriter: %s\nreader: %s", seed, p.res.Issues, c.writerJSON, c.readerJSON)
		}
		wc, err := goavro.NewCodec(c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		for i, datum := range c.data {
			data, err := wc.SingleFromNative(nil, datum)
			if err != nil {
				t.Fatalf("seed %d: goavro: %v", seed, err)
			}
			p.goavroed = append(p.goavroed, data)
			o.read(fmt.Sprintf("%d/%d read", seed, i), c.writerJSON, c.readerJSON, data)
			o.read(fmt.Sprintf("%d/%d read as written", seed, i), c.writerJSON, c.writerJSON, data)
			tagged, err := pyTagged(p.wn, datum)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			o.write(fmt.Sprintf("%d/%d write", seed, i), c.writerJSON, tagged, false)
		}
		cases = append(cases, p)
	}
	results, pyWritten := o.run()

	records := 0
	for _, p := range cases {
		c := p.c
		fail := func(format string, args ...any) {
			t.Errorf("seed %d: %s\nwriter: %s\nreader: %s", c.seed, fmt.Sprintf(format, args...), c.writerJSON, c.readerJSON)
		}
		wc, err := goavro.NewCodec(c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		identity, err := NewResolver(c.writerJSON, c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		for i, datum := range c.data {
			records++
			asWritten, err := flavorGoavro.norm(p.wn, nil, datum)
			if err != nil {
				t.Fatalf("seed %d: %v", c.seed, err)
			}
			resolved, err := p.res.Decode(p.goavroed[i][headerLen:])
			if err != nil {
				fail("record %d: Resolver: %v", i, err)
				continue
			}
			want, err := flavorGoavro.norm(p.rn, nil, resolved)
			if err != nil {
				fail("record %d: Resolver gave %#v: %v", i, resolved, err)
				continue
			}

			// logstream (goavro) → Python.
			for _, job := range []struct {
				suffix string
				n      *node
				want   string
			}{{"read", p.rn, want}, {"read as written", p.wn, asWritten}} {
				res := results[fmt.Sprintf("%d/%d %s", c.seed, i, job.suffix)]
				if !res.OK {
					fail("record %d, %s: Python: %s", i, job.suffix, res.Error)
					continue
				}
				if want := fmt.Sprintf("%016x", wc.Rabin); res.FPHeader != want || res.FPLibrary != want {
					fail("record %d: fingerprint %s in the header, %s from Python's avro, goavro's %s", i, res.FPHeader, res.FPLibrary, want)
				}
				if !strings.Contains(c.writerJSON, "logicalType") && res.FPSpec != res.FPLibrary {
					fail("record %d: the Parsing Canonical Form gives %s, avro %s, for a schema without logical types", i, res.FPSpec, res.FPLibrary)
				}
				// logstream's fingerprint is the specification's, as the
				// script computes it; the legacy one is avro 1.11's.
				fp, err1 := schemas.Fingerprint(c.writerJSON)
				legacy, err2 := schemas.LegacyFingerprint(c.writerJSON)
				if err1 != nil || err2 != nil || fmt.Sprintf("%016x", fp) != res.FPSpec || fmt.Sprintf("%016x", legacy) != res.FPLibrary {
					fail("record %d: fingerprint %016x (%v), legacy %016x (%v); Python: the specification's %s, avro's %s", i, fp, err1, legacy, err2, res.FPSpec, res.FPLibrary)
				}
				got, err := flavorPython.norm(job.n, nil, res.Value)
				if err != nil {
					fail("record %d, %s: Python read %v: %v", i, job.suffix, res.Value, err)
					continue
				}
				if got != job.want {
					fail("record %d, %s: the values differ\nPython:   %s\nResolver: %s", i, job.suffix, got, job.want)
				}
			}

			// Python → logstream.
			id := fmt.Sprintf("%d/%d write", c.seed, i)
			if res := results[id]; !res.OK {
				fail("record %d: Python writes: %s", i, res.Error)
				continue
			}
			data := pyWritten[id]
			if binary.LittleEndian.Uint64(data[2:headerLen]) != wc.Rabin {
				fail("record %d: Python's header % x, goavro's fingerprint %016x", i, data[:headerLen], wc.Rabin)
				continue
			}
			for _, read := range []struct {
				what string
				res  *Resolver
				n    *node
				want string
			}{{"as the reader", p.res, p.rn, want}, {"as written", identity, p.wn, asWritten}} {
				v, err := read.res.Decode(data[headerLen:])
				if err != nil {
					fail("record %d: Resolver reads Python's bytes %s: %v", i, read.what, err)
					continue
				}
				got, err := flavorGoavro.norm(read.n, nil, v)
				if err != nil || got != read.want {
					fail("record %d: Resolver reads Python's bytes %s:\ngot  %s (%v)\nwant %s", i, read.what, got, err, read.want)
				}
			}
		}
	}
	t.Logf("%d cases, %d records each way", len(cases), records)
}

// TestPythonOracleIncompatibleRecords: a plan compiles despite
// incompatibilities and fails only the records that reach one (an enum
// symbol the reader lacks, a union branch it lacks, ...), as the Python
// library's reader does: record by record, both read it the same way or
// both fail.
func TestPythonOracleIncompatibleRecords(t *testing.T) {
	o := newPyOracle(t)
	var cases []*genCase
	for seed := uint64(7000); seed < 7300; seed++ {
		c := newGen(seed, true).makeCase(seed, 100)
		if c.broke == nil {
			continue
		}
		wc, err := goavro.NewCodec(c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		for i, datum := range c.data {
			data, err := wc.SingleFromNative(nil, datum)
			if err != nil {
				t.Fatal(err)
			}
			o.read(fmt.Sprintf("%d/%d", seed, i), c.writerJSON, c.readerJSON, data)
		}
		cases = append(cases, c)
	}
	results, _ := o.run()
	var read, failed int
	for _, c := range cases {
		res, err := NewResolver(c.writerJSON, c.readerJSON)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Issues) == 0 {
			t.Errorf("seed %d: an evolution breaking %v, but no issues", c.seed, c.broke)
			continue
		}
		wc, err := goavro.NewCodec(c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		rn, err := parseSchema(c.readerJSON)
		if err != nil {
			t.Fatal(err)
		}
		for i, datum := range c.data {
			body, err := wc.BinaryFromNative(nil, datum)
			if err != nil {
				t.Fatal(err)
			}
			v, gerr := res.Decode(body)
			pr := results[fmt.Sprintf("%d/%d", c.seed, i)]
			switch {
			case gerr != nil && !pr.OK:
				failed++
			case gerr != nil || !pr.OK:
				t.Errorf("seed %d record %d: Resolver: %v; Python: %s\nissues: %v\nwriter: %s\nreader: %s", c.seed, i, gerr, pr.Error, res.Issues, c.writerJSON, c.readerJSON)
			default:
				read++
				got, err1 := flavorGoavro.norm(rn, nil, v)
				want, err2 := flavorPython.norm(rn, nil, pr.Value)
				if err1 != nil || err2 != nil || got != want {
					t.Errorf("seed %d record %d:\nResolver: %s %v\nPython:   %s %v", c.seed, i, got, err1, want, err2)
				}
			}
		}
	}
	t.Logf("%d incompatible cases: %d records read alike, %d refused by both", len(cases), read, failed)
}

// TestPythonOracleNamedTypes: the hand-written cases (named types used
// again by name, recursion) both ways.
func TestPythonOracleNamedTypes(t *testing.T) {
	o := newPyOracle(t)
	cases := handCases()
	for ci, hc := range cases {
		wc, err := goavro.NewCodec(hc.writer)
		if err != nil {
			t.Fatal(err)
		}
		wn, err := parseSchema(hc.writer)
		if err != nil {
			t.Fatal(err)
		}
		for i, datum := range hc.data {
			data, err := wc.SingleFromNative(nil, datum)
			if err != nil {
				t.Fatal(err)
			}
			if hc.pythonCannot == "" {
				o.read(fmt.Sprintf("%d/%d read", ci, i), hc.writer, hc.reader, data)
			}
			tagged, err := pyTagged(wn, datum)
			if err != nil {
				t.Fatal(err)
			}
			o.write(fmt.Sprintf("%d/%d write", ci, i), hc.writer, tagged, false)
		}
	}
	results, written := o.run()
	for ci, hc := range cases {
		t.Run(hc.name, func(t *testing.T) {
			res, err := NewResolver(hc.writer, hc.reader)
			if err != nil {
				t.Fatal(err)
			}
			wc, err := goavro.NewCodec(hc.writer)
			if err != nil {
				t.Fatal(err)
			}
			rn, err := parseSchema(hc.reader)
			if err != nil {
				t.Fatal(err)
			}
			for i, datum := range hc.data {
				body, err := wc.BinaryFromNative(nil, datum)
				if err != nil {
					t.Fatal(err)
				}
				v, err := res.Decode(body)
				if err != nil {
					t.Fatalf("record %d: Resolver: %v", i, err)
				}
				want, err := flavorGoavro.norm(rn, nil, v)
				if err != nil {
					t.Fatalf("record %d: Resolver gave %#v: %v", i, v, err)
				}
				pr := results[fmt.Sprintf("%d/%d read", ci, i)]
				if hc.pythonCannot != "" {
					// Only its writing is checked.
				} else if !pr.OK {
					t.Errorf("record %d: Python reads: %s", i, pr.Error)
				} else if got, err := flavorPython.norm(rn, nil, pr.Value); err != nil || got != want {
					t.Errorf("record %d:\nPython:   %s %v\nResolver: %s", i, got, err, want)
				}
				id := fmt.Sprintf("%d/%d write", ci, i)
				if pw := results[id]; !pw.OK {
					t.Errorf("record %d: Python writes: %s", i, pw.Error)
					continue
				}
				v, err = res.Decode(written[id][headerLen:])
				if err != nil {
					t.Errorf("record %d: Resolver reads Python's bytes: %v", i, err)
					continue
				}
				if got, err := flavorGoavro.norm(rn, nil, v); err != nil || got != want {
					t.Errorf("record %d: Resolver reads Python's bytes as %s %v, want %s", i, got, err, want)
				}
			}
		})
	}
}

// TestPythonOracleCompatibility compares Compatibility with the library's
// static check (a port of Java's SchemaCompatibility, which Confluent's
// rule names come from) on the generator's full range, breaks included.
//
// The verdicts must agree. The rules may differ in two ways, counted and
// logged; any other difference fails:
//   - where a writer union branch cannot be read into the reader's union
//     because of something inside it (a record field, an enum symbol, a
//     fixed size), Java names the union (MISSING_UNION_BRANCH) and
//     resolve.go the thing inside;
//   - a reader field the writer lacks, with no default, whose type is an
//     enum with a default: Java checks the enum against the writer's
//     record (TYPE_MISMATCH), resolve.go names the missing default.
func TestPythonOracleCompatibility(t *testing.T) {
	o := newPyOracle(t)
	var cases []*genCase
	for _, seed := range hambaSeeds() {
		c := newGen(seed, false).makeCase(seed, 30)
		cases = append(cases, c)
		o.compat(strconv.FormatUint(seed, 10), c.writerJSON, c.readerJSON)
	}
	results, _ := o.run()
	var incompatible, sameRules int
	var insideUnion, enumField []string
	for _, c := range cases {
		res := results[strconv.FormatUint(c.seed, 10)]
		if !res.OK {
			t.Errorf("seed %d: Python: %s\nwriter: %s\nreader: %s", c.seed, res.Error, c.writerJSON, c.readerJSON)
			continue
		}
		issues, err := Compatibility(c.readerJSON, c.writerJSON)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, is := range issues {
			if !slices.Contains(rules, is.Rule) {
				rules = append(rules, is.Rule)
			}
		}
		slices.Sort(rules)
		if (len(issues) == 0) != res.Compatible {
			t.Errorf("seed %d: Compatibility says %v; Python says compatible=%v %v\nwriter: %s\nreader: %s", c.seed, issues, res.Compatible, res.Rules, c.writerJSON, c.readerJSON)
			continue
		}
		if len(issues) == 0 {
			continue
		}
		incompatible++
		switch {
		case slices.Equal(rules, res.Rules):
			sameRules++
		case slices.Equal(res.Rules, []string{RuleMissingUnion}) && !slices.Contains(rules, RuleMissingUnion) && hasUnion(c.writerJSON):
			insideUnion = append(insideUnion, fmt.Sprintf("seed %d: %v", c.seed, issues))
		case slices.Equal(res.Rules, []string{RuleTypeMismatch}) && slices.Equal(rules, []string{RuleMissingDefault}) && enumWithDefault(c.reader, issues[0].Field):
			enumField = append(enumField, fmt.Sprintf("seed %d: %v", c.seed, issues))
		default:
			t.Errorf("seed %d: Compatibility names %v; Python %v\nissues: %v\nwriter: %s\nreader: %s", c.seed, rules, res.Rules, issues, c.writerJSON, c.readerJSON)
		}
	}
	t.Logf("%d cases, %d incompatible: %d named with the same rules, %d named inside a union where Java names MISSING_UNION_BRANCH, %d missing enum fields Java calls TYPE_MISMATCH",
		len(cases), incompatible, sameRules, len(insideUnion), len(enumField))
	for _, l := range [][]string{insideUnion, enumField} {
		if len(l) > 0 {
			t.Logf("for example %s", l[0])
		}
	}
}

// hasUnion reports whether schema text (as genType.jsonSchema writes it)
// holds a union.
func hasUnion(schema string) bool {
	return strings.Contains(schema, `"type":[`) || strings.Contains(schema, `"items":[`) || strings.Contains(schema, `"values":[`)
}

// enumWithDefault reports whether t has a record field named field whose
// type is an enum with a default.
func enumWithDefault(t *genType, field string) bool {
	for _, f := range t.fields {
		if f.name == field && f.typ.kind == gEnum && f.typ.enumDef != "" {
			return true
		}
		if enumWithDefault(f.typ, field) {
			return true
		}
	}
	for _, b := range t.branches {
		if enumWithDefault(b, field) {
			return true
		}
	}
	return t.elem != nil && enumWithDefault(t.elem, field)
}
