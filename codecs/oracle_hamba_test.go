package codecs

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// Schema resolution checked against independent implementations. A seeded
// generator makes writer record schemas, evolves each into a reader schema
// (mostly compatibly, sometimes breaking one rule on purpose) and makes data
// for the writer. This file compares the static check and the decoded
// values with github.com/hamba/avro (used only here, as an oracle);
// oracle_python_test.go does the same with Apache Avro's Python library.
//
// Where an implementation departs from the Avro specification, or from the
// others, the generator keeps the case out (see the rule that does it):
//
//   - A reader union's branch for a writer value. resolve.go takes the
//     first branch of the same type, else the first the value promotes to
//     (Apache Avro Java's choice); hamba and the Python library take the
//     first it promotes to or matches, in branch order, the literal reading
//     of the specification's "the first schema in the reader's union that
//     matches". They differ only for a union holding two types of one
//     promotion family (int and long; string and bytes), so a generated
//     union holds at most one of each family (genFamily);
//     TestHambaUnionBranchChoice pins resolve.go's choice.
//   - Aliases. resolve.go matches a reader field by name before aliases and
//     a named type's alias by its unqualified name; the specification
//     (aliases rewrite the writer's schema; an alias is a full name), Java
//     and hamba do neither. The generator renames only to fresh names in
//     one namespace; TestHambaOracleAliases keeps the two divergences.
//   - Defaults the specification allows and an implementation does not
//     take (gen.defaultable): goavro, which compiles every writer schema
//     (NewResolver's too), reads a long default through a float64 and
//     refuses one that rounds out of range, refuses a record, array or map
//     default holding a bare non-null union value (it wants {"int": 7}), and
//     takes a fixed default's text as UTF-8 ("\u00ff" is two bytes, not
//     one). hamba (v2.31) rounds a long default beyond 2^53, reads a
//     time-micros default as nanoseconds, and cannot decode into `any` a
//     union default whose first branch is an enum, record, fixed, map or
//     logical type, nor a null inside a record, array or map default (an
//     array default holding a null does not even parse). So writer schemas
//     get none of these (ASCII bytes and fixed defaults, longs within 2^53),
//     reader schemas none of hamba's in the hamba run; the Python run gives
//     its readers the rest.
//   - hamba's Resolve recurses without end on a recursive schema that
//     needs resolving; the generator makes no recursion, and
//     handCase.recursive keeps hamba to the static check.
//
// hamba's `any` form is not goavro's: it leaves a union value bare (no
// {"branch": value} map) when every branch it resolved to is a primitive,
// or when the writer's type was not a union at all; flavorHamba undoes that
// with the writer's schema at hand, as hamba's resolved schema does.

// genKind is a generated type's kind.
type genKind int

const (
	gNull genKind = iota
	gBoolean
	gInt
	gLong
	gFloat
	gDouble
	gBytes
	gString
	gTimestamp      // long, timestamp-millis
	gTimestampMicro // long, timestamp-micros
	gTimeMicro      // long, time-micros
	gDate           // int, date
	gTimeMilli      // int, time-millis
	gRecord
	gEnum
	gFixed
	gArray
	gMap
	gUnion
)

// genLogical holds the logical types: the underlying kind and the name.
var genLogical = map[genKind]struct {
	under genKind
	name  string
}{
	gTimestamp: {gLong, "timestamp-millis"}, gTimestampMicro: {gLong, "timestamp-micros"},
	gTimeMicro: {gLong, "time-micros"}, gDate: {gInt, "date"}, gTimeMilli: {gInt, "time-millis"},
}

// underlying is k without its logical type.
func underlying(k genKind) genKind {
	if l, ok := genLogical[k]; ok {
		return l.under
	}
	return k
}

var genPrimitiveNames = map[genKind]string{
	gNull: "null", gBoolean: "boolean", gInt: "int", gLong: "long", gFloat: "float",
	gDouble: "double", gBytes: "bytes", gString: "string",
}

// genFamily groups the kinds that resolve into one another; a generated
// union holds at most one kind of each family (see the file comment).
func genFamily(k genKind) int {
	switch k {
	case gInt, gLong, gFloat, gDouble, gTimestamp, gTimestampMicro, gTimeMicro, gDate, gTimeMilli:
		return 100
	case gBytes, gString:
		return 101
	}
	return int(k)
}

// genType is a generated schema. Named types are generated once each, so
// the tree never shares a node and emits each definition once.
type genType struct {
	kind     genKind
	name     string   // unqualified
	ns       string   // namespace, "" for genNamespace
	aliases  []string // full names
	fields   []*genField
	symbols  []string
	enumDef  string // the enum's default symbol, "" for none
	size     int
	elem     *genType // array items, map values
	branches []*genType
}

type genField struct {
	name    string
	aliases []string
	typ     *genType
	hasDef  bool
	def     any // JSON value
}

const genNamespace = "gen"

func (t *genType) namespace() string {
	if t.ns == "" {
		return genNamespace
	}
	return t.ns
}

func (t *genType) fullName() string { return t.namespace() + "." + t.name }

func (t *genType) clone() *genType {
	c := *t
	c.aliases = slices.Clone(t.aliases)
	c.symbols = slices.Clone(t.symbols)
	c.fields = nil
	for _, f := range t.fields {
		fc := *f
		fc.aliases = slices.Clone(f.aliases)
		fc.typ = f.typ.clone()
		c.fields = append(c.fields, &fc)
	}
	if t.elem != nil {
		c.elem = t.elem.clone()
	}
	c.branches = nil
	for _, b := range t.branches {
		c.branches = append(c.branches, b.clone())
	}
	return &c
}

// typeName is the union branch name goavro and hamba use.
func (t *genType) typeName() string {
	switch t.kind {
	case gRecord, gEnum, gFixed:
		return t.fullName()
	case gArray:
		return "array"
	case gMap:
		return "map"
	}
	if l, ok := genLogical[t.kind]; ok {
		return genPrimitiveNames[l.under] + "." + l.name
	}
	return genPrimitiveNames[t.kind]
}

// jsonSchema is t as schema JSON.
func (t *genType) jsonSchema() string {
	b, err := json.Marshal(t.schemaValue(""))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// schemaValue is t as a JSON value, in namespace encl. A named type states
// its namespace only where it differs from the enclosing one: goavro's
// canonical form, and so its fingerprint, gets the full name wrong when a
// nested type states its namespace (see TestPythonOracleGenerated).
func (t *genType) schemaValue(encl string) any {
	named := func(o map[string]any) map[string]any {
		if ns := t.namespace(); ns != encl {
			o["namespace"] = ns
		}
		if len(t.aliases) > 0 {
			o["aliases"] = t.aliases
		}
		return o
	}
	if l, ok := genLogical[t.kind]; ok {
		return map[string]any{"type": genPrimitiveNames[l.under], "logicalType": l.name}
	}
	switch t.kind {
	case gRecord:
		fields := make([]any, len(t.fields))
		for i, f := range t.fields {
			fo := map[string]any{"name": f.name, "type": f.typ.schemaValue(t.namespace())}
			if len(f.aliases) > 0 {
				fo["aliases"] = f.aliases
			}
			if f.hasDef {
				fo["default"] = f.def
			}
			fields[i] = fo
		}
		return named(map[string]any{"type": "record", "name": t.name, "fields": fields})
	case gEnum:
		o := named(map[string]any{"type": "enum", "name": t.name, "symbols": t.symbols})
		if t.enumDef != "" {
			o["default"] = t.enumDef
		}
		return o
	case gFixed:
		return named(map[string]any{"type": "fixed", "name": t.name, "size": t.size})
	case gArray:
		return map[string]any{"type": "array", "items": t.elem.schemaValue(encl)}
	case gMap:
		return map[string]any{"type": "map", "values": t.elem.schemaValue(encl)}
	case gUnion:
		bs := make([]any, len(t.branches))
		for i, b := range t.branches {
			bs[i] = b.schemaValue(encl)
		}
		return bs
	}
	return genPrimitiveNames[t.kind]
}

// gen generates one case: a writer schema, its reader and writer data.
type gen struct {
	r     *rand.Rand
	names int
	// python restricts evolutions to what Apache Avro's Python library
	// (1.11) resolves: no aliases, no enum defaults, no string<->bytes, no
	// logical type changes (it keeps the writer's), no writer union read
	// as a non-union, no namespace moves (it matches full names), array
	// items and map values of the same type (keepType); ASCII bytes
	// defaults (it encodes a bytes default as UTF-8, where the
	// specification maps code points 0-255 to bytes). hamba's limits do
	// not apply to it.
	python bool
	// writer is set while the writer's schema is generated.
	writer bool
	// breakAt is the evolution site to break (-1: none); a site that
	// cannot be broken passes it on to the next. broke lists the rules
	// Compatibility may name for the break, nil while nothing is broken.
	breakAt int
	site    int
	broke   []string
	inUnion bool // the node being evolved is a union branch
	// keepType: the node being evolved keeps its type (no promotion, no
	// widening), as the Python library matches array items and map
	// values by type before resolving them.
	keepType bool
}

func newGen(seed uint64, python bool) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0x6c6f677374726561)), python: python, breakAt: -1}
}

func (g *gen) chance(pct int) bool { return g.r.IntN(100) < pct }

func (g *gen) newName(prefix string) string {
	g.names++
	return fmt.Sprintf("%s%d", prefix, g.names)
}

func (g *gen) randType(depth int, allowUnion bool) *genType {
	roll := g.r.IntN(100)
	switch {
	case roll < 42:
		return &genType{kind: []genKind{gBoolean, gInt, gLong, gFloat, gDouble, gBytes, gString}[g.r.IntN(7)]}
	case roll < 47:
		return &genType{kind: []genKind{gTimestamp, gTimestamp, gTimestampMicro, gTimeMicro, gDate, gTimeMilli}[g.r.IntN(6)]}
	case roll < 57 && depth < 3:
		return g.randRecord(depth + 1)
	case roll < 65:
		return g.randEnum()
	case roll < 70:
		return &genType{kind: gFixed, name: g.newName("F"), size: 1 + g.r.IntN(6)}
	case roll < 78 && depth < 3:
		return &genType{kind: gArray, elem: g.randType(depth+1, true)}
	case roll < 85 && depth < 3:
		return &genType{kind: gMap, elem: g.randType(depth+1, true)}
	case roll >= 85 && allowUnion:
		return g.randUnion(depth)
	}
	return &genType{kind: []genKind{gInt, gLong, gString}[g.r.IntN(3)]}
}

func (g *gen) randUnion(depth int) *genType {
	u := &genType{kind: gUnion}
	used := map[int]bool{}
	n := 1 + g.r.IntN(2)
	for tries := 0; len(u.branches) < n && tries < 20; tries++ {
		b := g.randType(depth+1, false)
		if f := genFamily(b.kind); !used[f] {
			used[f] = true
			u.branches = append(u.branches, b)
		}
	}
	if len(u.branches) == 1 && !g.chance(85) {
		return u // a one-branch union, which a reader may unwrap
	}
	null := &genType{kind: gNull}
	if g.chance(70) {
		u.branches = append([]*genType{null}, u.branches...)
	} else {
		u.branches = append(u.branches, null)
	}
	return u
}

func (g *gen) randEnum() *genType {
	e := &genType{kind: gEnum, name: g.newName("E")}
	pool := []string{"S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7"}
	g.r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	e.symbols = pool[:1+g.r.IntN(5)]
	if g.chance(20) {
		e.enumDef = e.symbols[g.r.IntN(len(e.symbols))]
	}
	return e
}

func (g *gen) randRecord(depth int) *genType {
	rec := &genType{kind: gRecord, name: g.newName("R")}
	n := 1 + g.r.IntN(5)
	for i := range n {
		f := &genField{name: fmt.Sprintf("f%d", i), typ: g.randType(depth, true)}
		if g.chance(30) {
			g.setDefault(f)
		}
		rec.fields = append(rec.fields, f)
	}
	return rec
}

// setDefault gives f a random default if every implementation in play
// takes one.
func (g *gen) setDefault(f *genField) bool {
	if !g.defaultable(f.typ, false) {
		f.hasDef, f.def = false, nil
		return false
	}
	f.hasDef, f.def = true, g.randDefault(f.typ)
	return true
}

// defaultable reports whether a default of t stays clear of the limits
// the file comment lists; nested is true inside a record, array or map
// default (an array or map default whose items are not defaultable is
// empty).
func (g *gen) defaultable(t *genType, nested bool) bool {
	switch t.kind {
	case gUnion:
		first := t.branches[0].kind
		if nested && g.writer && first != gNull {
			return false // goavro wants the value wrapped
		}
		if g.python {
			return g.defaultable(t.branches[0], nested)
		}
		if nested && first == gNull {
			return false // hamba: nullDefaultType
		}
		switch first {
		case gNull, gBoolean, gInt, gLong, gFloat, gDouble, gBytes, gString, gArray:
			return true
		}
		return false // hamba: unknown union type
	case gTimeMicro:
		return g.python // hamba takes the number for nanoseconds
	case gRecord:
		for _, f := range t.fields {
			if !g.defaultable(f.typ, true) {
				return false
			}
		}
	}
	return true
}

// randDefault is a JSON default for t, per the specification.
func (g *gen) randDefault(t *genType) any {
	switch t.kind {
	case gNull:
		return nil
	case gBoolean:
		return g.chance(50)
	case gInt:
		return int64(g.randInt32())
	case gDate:
		return int64(g.r.IntN(100_000) - 50_000)
	case gTimeMilli:
		return int64(g.r.IntN(86_400_000))
	case gTimeMicro:
		return g.r.Int64N(86_400_000_000)
	case gLong, gTimestamp, gTimestampMicro:
		i := g.randInt64()
		if (!g.python || g.writer) && (i > 1<<53 || i < -(1<<53)) {
			i >>= 11 // goavro and hamba read it through a float64
		}
		return i
	case gFloat, gDouble:
		// A fraction, as Python 1.11 takes only a JSON number with one
		// for a float default; x.5 is exact in both widths.
		return float64(g.r.IntN(2001)-1000) + 0.5
	case gBytes, gFixed:
		n := g.r.IntN(5)
		if t.kind == gFixed {
			n = t.size
		}
		var sb strings.Builder
		for range n {
			if g.python || g.writer {
				sb.WriteRune(rune(0x20 + g.r.IntN(0x5f)))
			} else {
				sb.WriteRune(rune(g.r.IntN(256)))
			}
		}
		return sb.String()
	case gString:
		return g.randString()
	case gEnum:
		return t.symbols[g.r.IntN(len(t.symbols))]
	case gArray:
		out := []any{}
		if g.defaultable(t.elem, true) {
			for range g.r.IntN(3) {
				out = append(out, g.randDefault(t.elem))
			}
		}
		return out
	case gMap:
		out := map[string]any{}
		if g.defaultable(t.elem, true) {
			for range g.r.IntN(3) {
				out[g.randString()] = g.randDefault(t.elem)
			}
		}
		return out
	case gRecord:
		out := map[string]any{}
		for _, f := range t.fields {
			out[f.name] = g.randDefault(f.typ)
		}
		return out
	case gUnion:
		return g.randDefault(t.branches[0])
	}
	panic("unreachable")
}

func (g *gen) randInt32() int32 {
	switch g.r.IntN(6) {
	case 0:
		return []int32{0, -1, 1, math.MaxInt32, math.MinInt32, 127, -128}[g.r.IntN(7)]
	case 1, 2:
		return int32(g.r.IntN(200) - 100)
	}
	return int32(g.r.Uint32())
}

func (g *gen) randInt64() int64 {
	switch g.r.IntN(6) {
	case 0:
		return []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1, -(1<<53 + 1)}[g.r.IntN(8)]
	case 1, 2:
		return int64(g.r.IntN(2000) - 1000)
	}
	return int64(g.r.Uint64())
}

func (g *gen) randString() string {
	pieces := []string{"a", "b", "z", "é", "日本", "✓", "🙂", " ", "\"", "\\", "\n", "ÿ", "k8s"}
	var sb strings.Builder
	for range g.r.IntN(5) {
		sb.WriteString(pieces[g.r.IntN(len(pieces))])
	}
	return sb.String()
}

func (g *gen) randFloat32() float32 {
	switch g.r.IntN(8) {
	case 0:
		return []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, math.SmallestNonzeroFloat32}[g.r.IntN(7)]
	case 1, 2:
		return float32(g.r.IntN(200)-100) / 4
	}
	return math.Float32frombits(g.r.Uint32())
}

func (g *gen) randFloat64() float64 {
	switch g.r.IntN(8) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}[g.r.IntN(7)]
	case 1, 2:
		return float64(g.r.IntN(200)-100) / 8
	}
	return math.Float64frombits(g.r.Uint64())
}

// randValue is a value of t in goavro's native form.
func (g *gen) randValue(t *genType) any {
	switch t.kind {
	case gNull:
		return nil
	case gBoolean:
		return g.chance(50)
	case gInt:
		return g.randInt32()
	case gLong:
		return g.randInt64()
	// Times within years 1800-2200 and times of day within a day, which
	// every implementation's time types hold.
	case gTimestamp:
		return time.UnixMilli(g.r.Int64N(14_000_000_000_000) - 5_000_000_000_000).UTC()
	case gTimestampMicro:
		return time.UnixMicro(g.r.Int64N(14_000_000_000_000_000) - 5_000_000_000_000_000).UTC()
	case gDate:
		return time.Unix(int64(g.r.IntN(140_000)-50_000)*86400, 0).UTC()
	case gTimeMilli:
		return time.Duration(g.r.IntN(86_400_000)) * time.Millisecond
	case gTimeMicro:
		return time.Duration(g.r.Int64N(86_400_000_000)) * time.Microsecond
	case gFloat:
		return g.randFloat32()
	case gDouble:
		return g.randFloat64()
	case gBytes:
		b := make([]byte, g.r.IntN(6))
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return b
	case gFixed:
		b := make([]byte, t.size)
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return b
	case gString:
		return g.randString()
	case gEnum:
		return t.symbols[g.r.IntN(len(t.symbols))]
	case gArray:
		out := []any{}
		for range g.r.IntN(4) {
			out = append(out, g.randValue(t.elem))
		}
		return out
	case gMap:
		out := map[string]any{}
		for range g.r.IntN(4) {
			out[g.randString()] = g.randValue(t.elem)
		}
		return out
	case gRecord:
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			out[f.name] = g.randValue(f.typ)
		}
		return out
	case gUnion:
		b := t.branches[g.r.IntN(len(t.branches))]
		if b.kind == gNull {
			return nil
		}
		return goavro.Union(b.typeName(), g.randValue(b))
	}
	panic("unreachable")
}

// Evolution. evolve returns the reader's version of writer type w: a deep
// copy with random compatible changes, and at site breakAt one breaking
// change.

func (g *gen) evolve(w *genType) *genType {
	site := g.site
	g.site++
	keepType := g.keepType
	g.keepType = false
	if site == g.breakAt {
		// Python checks array items and map values before reading any, so
		// it would refuse records whose arrays are empty: not broken there.
		if !keepType {
			if r := g.breakType(w); r != nil {
				return r
			}
		}
		g.breakAt++ // this site cannot be broken: break the next one
	}
	inUnion := g.inUnion
	g.inUnion = false
	defer func() { g.inUnion = inUnion }()
	switch w.kind {
	case gRecord:
		return g.evolveRecord(w)
	case gEnum:
		return g.evolveEnum(w)
	case gFixed:
		r := w.clone()
		if !g.python && g.chance(10) {
			g.renameWithAlias(r)
		}
		g.moveNamespace(r)
		return r
	case gArray, gMap:
		if g.python {
			g.keepType = true
			return &genType{kind: w.kind, elem: g.evolve(w.elem)}
		}
		return &genType{kind: w.kind, elem: g.evolveMaybeWiden(w.elem)}
	case gUnion:
		return g.evolveUnion(w)
	}
	if keepType {
		return w.clone()
	}
	// The specification resolves logical types by their underlying types:
	// a logical type may come or go, or change to another on the same
	// type. Python keeps the writer's logical type, so not in its run.
	if !g.python && g.chance(10) {
		var same []genKind
		for _, k := range []genKind{gInt, gLong, gTimestamp, gTimestampMicro, gTimeMicro, gDate, gTimeMilli} {
			if k != w.kind && underlying(k) == underlying(w.kind) {
				same = append(same, k)
			}
		}
		if len(same) > 0 {
			return &genType{kind: same[g.r.IntN(len(same))]}
		}
	}
	if g.chance(25) {
		if k, ok := g.promote(w.kind); ok {
			return &genType{kind: k}
		}
	}
	return w.clone()
}

// promote picks a kind the specification promotes k to.
func (g *gen) promote(k genKind) (genKind, bool) {
	if _, ok := genLogical[k]; ok {
		if g.python {
			return 0, false
		}
		k = underlying(k)
	}
	var to []genKind
	switch k {
	case gInt:
		to = []genKind{gLong, gFloat, gDouble}
	case gLong:
		to = []genKind{gFloat, gDouble}
	case gFloat:
		to = []genKind{gDouble}
	case gString:
		to = []genKind{gBytes}
	case gBytes:
		to = []genKind{gString}
	}
	if g.python && (k == gString || k == gBytes) {
		to = nil // Python 1.11 does not convert between them
	}
	if len(to) == 0 {
		return 0, false
	}
	return to[g.r.IntN(len(to))], true
}

// evolveMaybeWiden evolves a field type, array item or map value type,
// sometimes widening a non-union into a union that holds it.
func (g *gen) evolveMaybeWiden(w *genType) *genType {
	brokeBefore := g.broke != nil
	r := g.evolve(w)
	if r.kind == gUnion || w.kind == gUnion || (g.broke != nil && !brokeBefore) || !g.chance(10) {
		return r
	}
	u := &genType{kind: gUnion, branches: []*genType{r}}
	if g.chance(60) || genFamily(r.kind) == genFamily(gNull) {
		u.branches = append(u.branches, &genType{kind: gNull})
	} else {
		for tries := 0; tries < 10; tries++ {
			o := g.randType(3, false)
			if genFamily(o.kind) != genFamily(r.kind) {
				u.branches = append(u.branches, o)
				break
			}
		}
	}
	if g.chance(50) {
		slices.Reverse(u.branches)
	}
	return u
}

// moveNamespace moves a named type to another namespace, which the
// specification allows (names match unqualified); the Python library
// matches full names, so not in the Python run.
func (g *gen) moveNamespace(r *genType) {
	if !g.python && g.chance(8) {
		r.ns = "gen.moved"
	}
}

func (g *gen) renameWithAlias(r *genType) {
	r.aliases = append(r.aliases, r.fullName())
	r.name = g.newName("A")
}

func (g *gen) evolveRecord(w *genType) *genType {
	r := &genType{kind: gRecord, name: w.name, ns: w.ns, aliases: slices.Clone(w.aliases)}
	for _, wf := range w.fields {
		if len(w.fields) > 1 && g.chance(15) {
			continue // removed: the reader skips it
		}
		rf := &genField{name: wf.name, aliases: slices.Clone(wf.aliases), typ: g.evolveMaybeWiden(wf.typ)}
		if wf.hasDef || g.chance(10) {
			g.setDefault(rf) // unused, as the writer has the field
		}
		if !g.python && g.chance(10) {
			rf.aliases = append(rf.aliases, rf.name)
			rf.name = g.newName("r")
		}
		r.fields = append(r.fields, rf)
	}
	if g.chance(30) {
		for range 1 + g.r.IntN(2) {
			f := &genField{name: g.newName("n")}
			for {
				f.typ = g.randType(2, true)
				if g.setDefault(f) {
					break
				}
			}
			r.fields = slices.Insert(r.fields, g.r.IntN(len(r.fields)+1), f)
		}
	}
	if g.chance(25) {
		g.r.Shuffle(len(r.fields), func(i, j int) { r.fields[i], r.fields[j] = r.fields[j], r.fields[i] })
	}
	if !g.python && g.chance(10) {
		g.renameWithAlias(r)
	}
	g.moveNamespace(r)
	return r
}

func (g *gen) evolveEnum(w *genType) *genType {
	r := w.clone()
	r.enumDef = ""
	if g.chance(30) {
		for _, s := range []string{"N0", "N1"}[:1+g.r.IntN(2)] {
			r.symbols = slices.Insert(r.symbols, g.r.IntN(len(r.symbols)+1), s)
		}
	}
	if g.chance(20) {
		g.r.Shuffle(len(r.symbols), func(i, j int) { r.symbols[i], r.symbols[j] = r.symbols[j], r.symbols[i] })
	}
	if !g.python && g.chance(25) {
		// With a default, the reader may drop writer symbols.
		r.enumDef = r.symbols[g.r.IntN(len(r.symbols))]
		if len(r.symbols) > 1 && g.chance(60) {
			i := g.r.IntN(len(r.symbols))
			if r.symbols[i] != r.enumDef {
				r.symbols = slices.Delete(r.symbols, i, i+1)
			}
		}
	}
	if !g.python && g.chance(10) {
		g.renameWithAlias(r)
	}
	g.moveNamespace(r)
	return r
}

func (g *gen) evolveUnion(w *genType) *genType {
	var branches []*genType
	used := map[int]bool{}
	for _, b := range w.branches {
		g.inUnion = true
		rb := g.evolve(b)
		g.inUnion = false
		branches = append(branches, rb)
		used[genFamily(rb.kind)] = true
	}
	if !g.python && len(w.branches) == 1 && g.chance(40) {
		return branches[0] // every writer branch (the one) reads as the reader's type
	}
	if g.chance(25) {
		b := g.randType(3, false)
		if !used[genFamily(b.kind)] {
			branches = append(branches, b) // a family the union lacks
		}
	}
	return &genType{kind: gUnion, branches: branches}
}

// breakType returns an incompatible reader type for w and records the
// rules Compatibility may name, or nil when it knows no break for w here.
func (g *gen) breakType(w *genType) *genType {
	// In a union, a branch with no reader branch is MISSING_UNION_BRANCH.
	inUnion := g.inUnion
	orUnion := func(rules ...string) []string {
		if inUnion {
			return append(rules, RuleMissingUnion)
		}
		return rules
	}
	switch w.kind {
	case gRecord:
		g.inUnion, g.breakAt = false, -1 // broken here, not below
		r := g.evolveRecord(w)
		if g.chance(50) {
			r.aliases, r.name = nil, g.newName("X")
			g.broke = []string{RuleNameMismatch}
			if inUnion {
				g.broke = []string{RuleMissingUnion}
			}
			return r
		}
		r.fields = append(r.fields, &genField{name: g.newName("m"), typ: g.randType(3, true)})
		g.broke = orUnion(RuleMissingDefault)
		return r
	case gEnum:
		r := w.clone()
		r.enumDef = ""
		if g.chance(30) {
			r.name = g.newName("X")
			g.broke = []string{RuleNameMismatch}
			if inUnion {
				g.broke = []string{RuleMissingUnion}
			}
			return r
		}
		if len(r.symbols) == 1 {
			r.symbols = []string{"N9"}
		} else {
			i := g.r.IntN(len(r.symbols))
			r.symbols = slices.Delete(r.symbols, i, i+1)
		}
		g.broke = orUnion(RuleMissingEnumSymbol)
		return r
	case gFixed:
		r := w.clone()
		if g.chance(50) {
			r.aliases, r.name = nil, g.newName("X")
			g.broke = []string{RuleNameMismatch}
			if inUnion {
				g.broke = []string{RuleMissingUnion}
			}
			return r
		}
		r.size++
		g.broke = orUnion(RuleFixedSize)
		return r
	case gUnion:
		if len(w.branches) < 2 {
			return nil
		}
		if g.python || g.chance(50) {
			// The reader drops a branch. (The Python library reads no
			// writer union as a non-union, so not the other break.)
			r := w.clone()
			i := g.r.IntN(len(r.branches))
			r.branches = slices.Delete(r.branches, i, i+1)
			g.broke = []string{RuleMissingUnion}
			return r
		}
		// The reader reads one branch's type, not the union.
		for _, b := range w.branches {
			if b.kind != gNull {
				g.broke = []string{RuleTypeMismatch, RuleNameMismatch, RuleFixedSize, RuleMissingEnumSymbol, RuleMissingDefault}
				return b.clone()
			}
		}
		return nil
	}
	if inUnion {
		return nil // another kind could clash with a sibling branch
	}
	to := map[genKind][]genKind{
		gBoolean: {gInt, gString}, gInt: {gBoolean, gString, gBytes}, gLong: {gInt, gString},
		gFloat: {gInt, gLong}, gDouble: {gFloat, gLong}, gBytes: {gInt, gBoolean},
		gString: {gInt, gDouble}, gTimestamp: {gInt, gString}, gTimestampMicro: {gInt, gBoolean},
		gTimeMicro: {gInt, gString}, gDate: {gString, gBoolean}, gTimeMilli: {gString, gBytes},
		gArray: {gMap, gString}, gMap: {gArray, gInt},
	}[w.kind]
	if len(to) == 0 {
		return nil
	}
	r := &genType{kind: to[g.r.IntN(len(to))]}
	if r.kind == gArray || r.kind == gMap {
		r.elem = w.elem.clone()
	}
	g.broke = []string{RuleTypeMismatch}
	return r
}

// genCase is one generated case.
type genCase struct {
	seed           uint64
	writer, reader *genType
	writerJSON     string
	readerJSON     string
	broke          []string // nil: the evolution is compatible
	data           []any    // writer values, goavro's native form
}

func (g *gen) makeCase(seed uint64, breakPct int) *genCase {
	g.writer = true
	w := g.randRecord(0)
	g.writer = false
	if g.chance(breakPct) {
		g.breakAt = g.r.IntN(12)
	}
	r := g.evolve(w)
	c := &genCase{seed: seed, writer: w, reader: r, writerJSON: w.jsonSchema(), readerJSON: r.jsonSchema(), broke: g.broke}
	for range 4 {
		c.data = append(c.data, g.randValue(w))
	}
	return c
}

// Normalising. Each implementation's decoded value, walked with the
// reader's schema, becomes one string: numbers by value and width, bytes
// in hex, times in nanoseconds, union values with the name of the reader
// branch they landed in, records in the reader's field order.

type flavor int

const (
	// flavorGoavro: goavro's native form, with the Go types documented for
	// Resolver.Decode (int32, float32, []byte for fixed, ...), strictly.
	flavorGoavro flavor = iota
	// flavorHamba: hamba's decoding into `any` (int for int, [N]byte for
	// fixed, bare union values; see the file comment).
	flavorHamba
	// flavorPython: the tagged JSON testdata/oracle/avro_oracle.py prints.
	flavorPython
)

// norm normalises v, a value of reader schema r. w is the writer's schema,
// which only hamba's form needs; nil means the reader's (a default).
func (f flavor) norm(r, w *node, v any) (string, error) {
	var sb strings.Builder
	if err := f.normTo(&sb, r, w, v, "$"); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// pyTag splits a tagged Python value {"tag": x}.
func pyTag(v any) (string, any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil
	}
	for k, x := range m {
		return k, x
	}
	return "", nil
}

func pyInt(x any) (int64, error) {
	s, _ := x.(string)
	return strconv.ParseInt(s, 10, 64)
}

func isPrimitive(n *node) bool { return n.kind <= kindString }

// oracleMatch: a value of writer type w can be read as reader type r
// without looking inside (same kind and name, or a promotion).
func oracleMatch(r, w *node) bool {
	if r.kind == w.kind {
		switch r.kind {
		case kindRecord, kindEnum, kindFixed:
			return r.short() == w.short() || slices.Contains(r.aliases, w.name)
		}
		return true
	}
	switch w.kind {
	case kindInt:
		return r.kind == kindLong || r.kind == kindFloat || r.kind == kindDouble
	case kindLong:
		return r.kind == kindFloat || r.kind == kindDouble
	case kindFloat:
		return r.kind == kindDouble
	case kindString:
		return r.kind == kindBytes
	case kindBytes:
		return r.kind == kindString
	}
	return false
}

// oracleBranch is the reader union branch a writer type w lands in: the
// first it matches (the generator keeps the cases where that is not the
// first of the same type out).
func oracleBranch(r, w *node) *node {
	for _, b := range r.branches {
		if oracleMatch(b, w) {
			return b
		}
	}
	return nil
}

// hambaGoType reports whether v has the Go type hamba gives a bare value of
// primitive branch b.
func hambaGoType(b *node, v any) bool {
	switch b.logical {
	case "timestamp-millis", "timestamp-micros", "date":
		_, ok := v.(time.Time)
		return ok
	case "time-millis", "time-micros":
		_, ok := v.(time.Duration)
		return ok
	}
	switch v.(type) {
	case nil:
		return b.kind == kindNull
	case bool:
		return b.kind == kindBoolean
	case int:
		return b.kind == kindInt
	case int64:
		return b.kind == kindLong
	case float32:
		return b.kind == kindFloat
	case float64:
		return b.kind == kindDouble
	case string:
		return b.kind == kindString
	case []byte:
		return b.kind == kindBytes
	}
	return false
}

func (f flavor) normTo(sb *strings.Builder, n, w *node, v any, at string) error {
	bad := func() error { return fmt.Errorf("%s: %T %v is not a %s", at, v, v, n.describe()) }
	if f == flavorHamba && w != nil && w.kind == kindUnion && n.kind != kindUnion {
		// hamba resolves each writer branch to n and decodes a union of
		// them: bare if n is a primitive, else wrapped.
		var wb *node
		for _, b := range w.branches {
			if oracleMatch(n, b) {
				wb = b
				break
			}
		}
		if wb == nil {
			return fmt.Errorf("%s: no branch of the writer's %s reads as %s", at, w.describe(), n.describe())
		}
		if !isPrimitive(n) {
			m, ok := v.(map[string]any)
			if !ok || len(m) != 1 {
				return bad()
			}
			if v, ok = m[n.typeName()]; !ok {
				return bad()
			}
		}
		return f.normTo(sb, n, wb, v, at)
	}
	if hasGoLogical(n) {
		return f.normLogical(sb, n, v, bad)
	}
	switch n.kind {
	case kindNull:
		if v != nil {
			return bad()
		}
		sb.WriteString("null")
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		fmt.Fprint(sb, b)
	case kindInt, kindLong:
		var i int64
		switch x := v.(type) {
		case int32:
			if f != flavorGoavro || n.kind != kindInt {
				return bad()
			}
			i = int64(x)
		case int:
			if f != flavorHamba || n.kind != kindInt {
				return bad()
			}
			i = int64(x)
		case int64:
			if f == flavorPython || n.kind != kindLong {
				return bad()
			}
			i = x
		default:
			tag, y := pyTag(v)
			if f != flavorPython {
				return bad()
			}
			if tag != "int" {
				return bad()
			}
			var err error
			i, err = pyInt(y)
			if err != nil {
				return bad()
			}
		}
		fmt.Fprintf(sb, "i:%d", i)
	case kindFloat, kindDouble:
		var d float64
		switch x := v.(type) {
		case float32:
			if n.kind != kindFloat {
				return bad()
			}
			d = float64(x)
		case float64:
			if f != flavorHamba && n.kind != kindDouble {
				return bad()
			}
			d = x
		default:
			if f != flavorPython {
				return bad()
			}
			// Python keeps a promoted value in the writer's type: an int
			// read as a float is still an int; convert as the reader would.
			switch tag, y := pyTag(v); tag {
			case "float":
				s, _ := y.(string)
				var err error
				if d, err = strconv.ParseFloat(s, 64); err != nil {
					return bad()
				}
			case "int":
				i, err := pyInt(y)
				if err != nil {
					return bad()
				}
				d = float64(i)
				if n.kind == kindFloat {
					d = float64(float32(i))
				}
			default:
				return bad()
			}
		}
		if n.kind == kindFloat {
			d = float64(float32(d))
		}
		fmt.Fprintf(sb, "f%d:%s", map[kind]int{kindFloat: 32, kindDouble: 64}[n.kind], strconv.FormatFloat(d, 'g', -1, 64))
	case kindString, kindEnum:
		s, ok := v.(string)
		if f == flavorPython {
			tag, y := pyTag(v)
			s, ok = y.(string)
			ok = ok && tag == "str"
		}
		if !ok || (n.kind == kindEnum && !slices.Contains(n.symbols, s)) {
			return bad()
		}
		sb.WriteString("s:" + strconv.Quote(s))
	case kindBytes, kindFixed:
		var b []byte
		switch x := v.(type) {
		case []byte:
			if f == flavorHamba && n.kind == kindFixed {
				return bad()
			}
			b = x
		default:
			rv := reflect.ValueOf(v)
			switch {
			case f == flavorHamba && n.kind == kindFixed && rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8:
				b = make([]byte, rv.Len())
				reflect.Copy(reflect.ValueOf(b), rv)
			case f == flavorPython:
				tag, y := pyTag(v)
				s, _ := y.(string)
				var err error
				if b, err = hex.DecodeString(s); tag != "bytes" || err != nil {
					return bad()
				}
			default:
				return bad()
			}
		}
		if n.kind == kindFixed && len(b) != n.size {
			return bad()
		}
		fmt.Fprintf(sb, "b:%x", b)
	case kindArray:
		list, ok := v.([]any)
		if f == flavorPython {
			tag, y := pyTag(v)
			list, ok = y.([]any)
			ok = ok && tag == "list"
		}
		if !ok {
			return bad()
		}
		var wi *node
		if w != nil {
			wi = w.items
		}
		sb.WriteString("[")
		for i, x := range list {
			if i > 0 {
				sb.WriteString(",")
			}
			if err := f.normTo(sb, n.items, wi, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		sb.WriteString("]")
	case kindMap, kindRecord:
		m, ok := v.(map[string]any)
		if f == flavorPython {
			tag, y := pyTag(v)
			m, ok = y.(map[string]any)
			ok = ok && tag == "dict"
		}
		if !ok {
			return bad()
		}
		if n.kind == kindMap {
			var wv *node
			if w != nil {
				wv = w.values
			}
			sb.WriteString("{")
			for i, k := range slices.Sorted(maps.Keys(m)) {
				if i > 0 {
					sb.WriteString(",")
				}
				sb.WriteString(strconv.Quote(k) + ":")
				if err := f.normTo(sb, n.values, wv, m[k], at+"{"+k+"}"); err != nil {
					return err
				}
			}
			sb.WriteString("}")
			return nil
		}
		if len(m) != len(n.fields) {
			return fmt.Errorf("%s: fields %v, the reader's %s has %d", at, slices.Sorted(maps.Keys(m)), n.name, len(n.fields))
		}
		sb.WriteString(n.name + "{")
		for i, fd := range n.fields {
			x, ok := m[fd.name]
			if !ok {
				return fmt.Errorf("%s: no field %s", at, fd.name)
			}
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(fd.name + "=")
			if err := f.normTo(sb, fd.typ, oracleWriterField(w, fd), x, at+"."+fd.name); err != nil {
				return err
			}
		}
		sb.WriteString("}")
	case kindUnion:
		return f.normUnion(sb, n, w, v, at)
	default:
		return bad()
	}
	return nil
}

// normLogical normalises a value of a logical type goavro gives a Go type
// of its own: times to nanoseconds since the epoch, dates to days, times of
// day to nanoseconds. Python gives its datetime types (tagged), or the raw
// number for a default.
func (f flavor) normLogical(sb *strings.Builder, n *node, v any, bad func() error) error {
	var x int64
	switch t := v.(type) {
	case time.Time:
		if f == flavorPython || t.Location() != time.UTC {
			return bad()
		}
		switch n.logical {
		case "timestamp-millis", "timestamp-micros":
			x = t.UnixNano()
		case "date":
			if t.Unix()%86400 != 0 || t.Nanosecond() != 0 {
				return bad()
			}
			x = t.Unix() / 86400
		default:
			return bad()
		}
	case time.Duration:
		if f == flavorPython || (n.logical != "time-millis" && n.logical != "time-micros") {
			return bad()
		}
		x = int64(t)
	default:
		if f != flavorPython {
			return bad()
		}
		tag, y := pyTag(v)
		i, err := pyInt(y)
		if err != nil {
			return bad()
		}
		switch {
		case tag == "ts_us" && strings.HasPrefix(n.logical, "timestamp-"):
			x = i * 1000
		case tag == "date_days" && n.logical == "date":
			x = i
		case tag == "time_us" && strings.HasPrefix(n.logical, "time-"):
			x = i * 1000
		case tag == "int": // a default: the raw number
			x = i * map[string]int64{"timestamp-millis": 1e6, "timestamp-micros": 1e3, "date": 1, "time-millis": 1e6, "time-micros": 1e3}[n.logical]
		default:
			return bad()
		}
	}
	fmt.Fprintf(sb, "%s:%d", n.logical, x)
	return nil
}

// oracleWriterField is the type of the writer's field that reader field rf
// reads, nil when the writer has none (rf takes its default).
func oracleWriterField(w *node, rf *field) *node {
	if w == nil {
		return nil
	}
	for _, wf := range w.fields {
		if wf.name == rf.name || slices.Contains(rf.aliases, wf.name) {
			return wf.typ
		}
	}
	return nil
}

func (f flavor) normUnion(sb *strings.Builder, n, w *node, v any, at string) error {
	bad := func() error { return fmt.Errorf("%s: %T %v is not a %s", at, v, v, n.describe()) }
	branch := func(b, wb *node, x any) error {
		if b.kind == kindNull {
			if x != nil {
				return bad()
			}
			sb.WriteString("null")
			return nil
		}
		sb.WriteString("<" + b.typeName() + ">")
		return f.normTo(sb, b, wb, x, at+"<"+b.typeName()+">")
	}
	if f == flavorHamba && w != nil && w.kind != kindUnion {
		// Resolved against a non-union, hamba reads the bare branch.
		b := oracleBranch(n, w)
		if b == nil {
			return fmt.Errorf("%s: no branch of %s reads the writer's %s", at, n.describe(), w.describe())
		}
		return branch(b, w, v)
	}
	// Each writer branch (or each reader branch, for a default) and the
	// reader branch it lands in.
	type pair struct{ r, w *node }
	var pairs []pair
	if w == nil {
		for _, b := range n.branches {
			pairs = append(pairs, pair{b, nil})
		}
	} else {
		for _, wb := range w.branches {
			if b := oracleBranch(n, wb); b != nil {
				pairs = append(pairs, pair{b, wb})
			}
		}
	}
	if v == nil {
		for _, p := range pairs {
			if p.r.kind == kindNull {
				sb.WriteString("null")
				return nil
			}
		}
		return bad()
	}
	if f == flavorHamba && !slices.ContainsFunc(pairs, func(p pair) bool { return !isPrimitive(p.r) }) {
		for _, p := range pairs {
			if hambaGoType(p.r, v) {
				return branch(p.r, p.w, v)
			}
		}
		return bad()
	}
	var name string
	var x any
	if f == flavorPython {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 2 {
			return bad()
		}
		name, _ = m["union"].(string)
		x = m["v"]
	} else if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for name, x = range m {
		}
	}
	for _, p := range pairs {
		if p.r.typeName() == name {
			return branch(p.r, p.w, x)
		}
	}
	return bad()
}

// hambaParse parses schema text with a cache of its own: hamba's default
// cache is global, and every case reuses the names gen.R1, gen.E2, ...
func hambaParse(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

// hambaDecode reads body, written with writer, as reader through hamba.
func hambaDecode(reader, writer avro.Schema, body []byte) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("hamba panicked: %v", p)
		}
	}()
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		return nil, err
	}
	// A fresh config, so a fresh decoder cache: hamba keys a resolved
	// record's decoder by its fields' types and the writer, not by which
	// fields are skipped, so the same writer read by two readers (one
	// dropping f0, one f1) shares one decoder and the second reads wrong.
	err = avro.Config{}.Freeze().Unmarshal(resolved, body, &v)
	return v, err
}

// hambaSeeds is the seed list of the generated cases: fixed, so a failure
// names a seed that reproduces it.
func hambaSeeds() []uint64 {
	seeds := make([]uint64, 1000)
	for i := range seeds {
		seeds[i] = uint64(1000 + i)
	}
	return seeds
}

func TestHambaOracleGenerated(t *testing.T) {
	var compatible, incompatible, decoded int
	for _, seed := range hambaSeeds() {
		c := newGen(seed, false).makeCase(seed, 30)
		if failed := checkHambaCase(t, c); failed {
			continue
		}
		if len(c.broke) > 0 {
			incompatible++
		} else {
			compatible++
			decoded += len(c.data)
		}
	}
	t.Logf("%d cases: %d compatible (%d records decoded by both), %d incompatible", len(hambaSeeds()), compatible, decoded, incompatible)
	if compatible < 600 || incompatible < 120 {
		t.Errorf("the generator made %d compatible and %d incompatible cases; want at least 600 and 120", compatible, incompatible)
	}
}

// checkHambaCase checks one case and reports whether it failed.
func checkHambaCase(t *testing.T, c *genCase) bool {
	t.Helper()
	fail := func(format string, args ...any) bool {
		t.Errorf("seed %d: %s\nwriter: %s\nreader: %s", c.seed, fmt.Sprintf(format, args...), c.writerJSON, c.readerJSON)
		return true
	}
	issues, err := Compatibility(c.readerJSON, c.writerJSON)
	if err != nil {
		return fail("Compatibility: %v", err)
	}
	hw, err := hambaParse(c.writerJSON)
	if err != nil {
		return fail("hamba parses the writer: %v", err)
	}
	hr, err := hambaParse(c.readerJSON)
	if err != nil {
		return fail("hamba parses the reader: %v", err)
	}
	herr := avro.NewSchemaCompatibility().Compatible(hr, hw)
	if (len(issues) == 0) != (herr == nil) {
		return fail("Compatibility says %v; hamba says %v", issues, herr)
	}
	if c.broke == nil && len(issues) > 0 {
		return fail("a compatible evolution, but Compatibility says %v", issues)
	}
	if c.broke != nil {
		if len(issues) == 0 {
			return fail("an evolution breaking %v, but Compatibility finds nothing", c.broke)
		}
		if !slices.ContainsFunc(issues, func(i Incompatibility) bool { return slices.Contains(c.broke, i.Rule) }) {
			return fail("an evolution breaking %v, but Compatibility says %v", c.broke, issues)
		}
	}
	res, err := NewResolver(c.writerJSON, c.readerJSON)
	if err != nil {
		return fail("NewResolver: %v", err)
	}
	if !reflect.DeepEqual(res.Issues, issues) {
		return fail("Resolver.Issues %v, Compatibility %v", res.Issues, issues)
	}
	if len(issues) > 0 {
		return false
	}
	wc, err := goavro.NewCodec(c.writerJSON)
	if err != nil {
		return fail("goavro: %v", err)
	}
	rn, err := parseSchema(c.readerJSON)
	if err != nil {
		return fail("parseSchema: %v", err)
	}
	wn, err := parseSchema(c.writerJSON)
	if err != nil {
		return fail("parseSchema: %v", err)
	}
	for i, datum := range c.data {
		body, err := wc.BinaryFromNative(nil, datum)
		if err != nil {
			return fail("record %d: goavro encodes %v: %v", i, datum, err)
		}
		got, err := res.Decode(body)
		if err != nil {
			return fail("record %d: Resolver.Decode: %v", i, err)
		}
		want, err := hambaDecode(hr, hw, body)
		if err != nil {
			return fail("record %d: hamba decodes: %v", i, err)
		}
		gs, err := flavorGoavro.norm(rn, nil, got)
		if err != nil {
			return fail("record %d: Resolver.Decode gave %#v: %v", i, got, err)
		}
		hs, err := flavorHamba.norm(rn, wn, want)
		if err != nil {
			return fail("record %d: hamba gave %#v: %v", i, want, err)
		}
		if gs != hs {
			return fail("record %d: the values differ\nResolver: %s\nhamba:    %s", i, gs, hs)
		}
	}
	return false
}

// TestHambaOracleIncompatible: the breaking changes that matter most, one
// by one, with the rule each must be reported as; hamba must agree that
// each is incompatible.
func TestHambaOracleIncompatible(t *testing.T) {
	rec := func(fields string) string {
		return `{"type":"record","name":"Ev","namespace":"gen","fields":[` + fields + `]}`
	}
	cases := []struct {
		name, writer, reader string
		rule, field, path    string
	}{
		{
			name:   "field removed, old reader has no default",
			writer: rec(`{"name":"id","type":"string"}`),
			reader: rec(`{"name":"id","type":"string"},{"name":"host","type":"string"}`),
			rule:   RuleMissingDefault, field: "host", path: "Ev.host",
		},
		{
			name:   "enum symbol removed, no default",
			writer: rec(`{"name":"lvl","type":{"type":"enum","name":"Level","symbols":["INFO","WARN","ERROR"]}}`),
			reader: rec(`{"name":"lvl","type":{"type":"enum","name":"Level","symbols":["INFO","ERROR"]}}`),
			rule:   RuleMissingEnumSymbol, field: "lvl", path: "Ev.lvl",
		},
		{
			name:   "string to int",
			writer: rec(`{"name":"code","type":"string"}`),
			reader: rec(`{"name":"code","type":"int"}`),
			rule:   RuleTypeMismatch, field: "code", path: "Ev.code",
		},
		{
			name:   "long to int",
			writer: rec(`{"name":"n","type":"long"}`),
			reader: rec(`{"name":"n","type":"int"}`),
			rule:   RuleTypeMismatch, field: "n", path: "Ev.n",
		},
		{
			name:   "fixed size change",
			writer: rec(`{"name":"h","type":{"type":"fixed","name":"Hash","size":16}}`),
			reader: rec(`{"name":"h","type":{"type":"fixed","name":"Hash","size":32}}`),
			rule:   RuleFixedSize, field: "h", path: "Ev.h",
		},
		{
			name:   "record renamed without alias",
			writer: rec(`{"name":"id","type":"string"}`),
			reader: `{"type":"record","name":"Event","namespace":"gen","fields":[{"name":"id","type":"string"}]}`,
			rule:   RuleNameMismatch, path: "Event",
		},
		{
			name:   "nested record renamed without alias",
			writer: rec(`{"name":"k","type":{"type":"record","name":"K8s","fields":[{"name":"pod","type":"string"}]}}`),
			reader: rec(`{"name":"k","type":{"type":"record","name":"Kube","fields":[{"name":"pod","type":"string"}]}}`),
			rule:   RuleNameMismatch, field: "k", path: "Ev.k",
		},
		{
			name:   "union branch dropped",
			writer: rec(`{"name":"u","type":["null","string","long"]}`),
			reader: rec(`{"name":"u","type":["null","string"]}`),
			rule:   RuleMissingUnion, field: "u", path: "Ev.u",
		},
		{
			name:   "optional made required",
			writer: rec(`{"name":"u","type":["null","string"]}`),
			reader: rec(`{"name":"u","type":"string"}`),
			rule:   RuleTypeMismatch, field: "u", path: "Ev.u",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issues, err := Compatibility(tc.reader, tc.writer)
			if err != nil {
				t.Fatal(err)
			}
			if len(issues) != 1 {
				t.Fatalf("issues %v, want one %s", issues, tc.rule)
			}
			if got := issues[0]; got.Rule != tc.rule || got.Field != tc.field || got.Path != tc.path {
				t.Errorf("issue %+v, want rule %s, field %q, path %q", got, tc.rule, tc.field, tc.path)
			}
			hw, err := hambaParse(tc.writer)
			if err != nil {
				t.Fatal(err)
			}
			hr, err := hambaParse(tc.reader)
			if err != nil {
				t.Fatal(err)
			}
			if err := avro.NewSchemaCompatibility().Compatible(hr, hw); err == nil {
				t.Errorf("hamba finds %s compatible", tc.name)
			}
		})
	}
}

// TestHambaUnionBranchChoice pins the case the generator keeps out: an int
// read into ["long", "int"]. resolve.go (as Apache Avro Java) takes the
// exact branch, int; hamba and the Python library take the first branch the
// value can be read as, long. The specification's "the first schema in the
// reader's union that matches" reads either way, as its matching rules
// include promotion.
func TestHambaUnionBranchChoice(t *testing.T) {
	writer := `{"type":"record","name":"R","namespace":"gen","fields":[{"name":"x","type":"int"}]}`
	reader := `{"type":"record","name":"R","namespace":"gen","fields":[{"name":"x","type":["long","int"]}]}`
	res, err := NewResolver(writer, reader)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := goavro.NewCodec(writer)
	if err != nil {
		t.Fatal(err)
	}
	body, err := wc.BinaryFromNative(nil, map[string]any{"x": int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := res.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"x": map[string]any{"int": int32(7)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Resolver.Decode = %#v, want %#v (the exact branch)", got, want)
	}
	hw, _ := hambaParse(writer)
	hr, _ := hambaParse(reader)
	hv, err := hambaDecode(hr, hw, body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hamba reads it as %T %v (long: the first branch the int promotes to)", hv.(map[string]any)["x"], hv)
}

// handCase is a hand-written schema pair the generator does not make: named
// types referred to again by name, recursion.
type handCase struct {
	name           string
	writer, reader string
	data           []any // goavro's native form of the writer
	// recursive: hamba's Resolve recurses without end on a recursive
	// schema that needs resolving (a fatal stack overflow, v2.31), so
	// hamba only checks its compatibility; Python reads it.
	recursive bool
	// pythonCannot says why the Python library cannot read it, "" if it can.
	pythonCannot string
}

func handCases() []handCase {
	node := func(v int32, next any) map[string]any {
		if next != nil {
			next = goavro.Union("gen.Node", next)
		}
		return map[string]any{"v": v, "next": next}
	}
	p := func(x int32) map[string]any { return map[string]any{"x": x} }
	return []handCase{
		{
			name:      "recursive list, promoted and extended",
			writer:    `{"type":"record","name":"Node","namespace":"gen","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`,
			reader:    `{"type":"record","name":"Node","namespace":"gen","fields":[{"name":"tag","type":"string","default":"t"},{"name":"v","type":"long"},{"name":"next","type":["null","Node"],"default":null}]}`,
			data:      []any{node(1, nil), node(1, node(2, node(3, nil))), node(math.MinInt32, node(math.MaxInt32, nil))},
			recursive: true,
		},
		{
			name: "a record type used three times",
			writer: `{"type":"record","name":"R","namespace":"gen","fields":[
				{"name":"a","type":{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}},
				{"name":"b","type":"P"},
				{"name":"c","type":{"type":"array","items":"P"}},
				{"name":"d","type":["null","P"]}]}`,
			reader: `{"type":"record","name":"R","namespace":"gen","fields":[
				{"name":"c","type":{"type":"array","items":{"type":"record","name":"P","fields":[{"name":"y","type":"string","default":"dflt"},{"name":"x","type":"double"}]}}},
				{"name":"d","type":["null","string","P"]},
				{"name":"a","type":"P"},
				{"name":"b","type":["null","P"]}]}`,
			data: []any{
				map[string]any{"a": p(1), "b": p(2), "c": []any{p(3), p(4)}, "d": nil},
				map[string]any{"a": p(-1), "b": p(0), "c": []any{}, "d": goavro.Union("gen.P", p(5))},
			},
		},
		{
			name: "an enum used twice, a symbol dropped for the default",
			writer: `{"type":"record","name":"R","namespace":"gen","fields":[
				{"name":"a","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
				{"name":"b","type":{"type":"map","values":"E"}}]}`,
			reader: `{"type":"record","name":"R","namespace":"gen","fields":[
				{"name":"a","type":{"type":"enum","name":"E","symbols":["C","A","Z"],"default":"Z"}},
				{"name":"b","type":{"type":"map","values":"E"}}]}`,
			data: []any{
				map[string]any{"a": "B", "b": map[string]any{"x": "A", "y": "B", "z": "C"}},
				map[string]any{"a": "C", "b": map[string]any{}},
			},
			pythonCannot: "avro 1.11 ignores an enum's default",
		},
	}
}

func TestHambaOracleNamedTypes(t *testing.T) {
	for _, hc := range handCases() {
		t.Run(hc.name, func(t *testing.T) {
			issues, err := Compatibility(hc.reader, hc.writer)
			if err != nil || len(issues) > 0 {
				t.Fatalf("Compatibility: %v %v", issues, err)
			}
			hw, err := hambaParse(hc.writer)
			if err != nil {
				t.Fatal(err)
			}
			hr, err := hambaParse(hc.reader)
			if err != nil {
				t.Fatal(err)
			}
			if err := avro.NewSchemaCompatibility().Compatible(hr, hw); err != nil {
				t.Fatalf("hamba: %v", err)
			}
			if hc.recursive {
				return // see handCase.recursive; TestPythonOracleNamedTypes reads it
			}
			res, err := NewResolver(hc.writer, hc.reader)
			if err != nil {
				t.Fatal(err)
			}
			wc, err := goavro.NewCodec(hc.writer)
			if err != nil {
				t.Fatal(err)
			}
			wn, _ := parseSchema(hc.writer)
			rn, _ := parseSchema(hc.reader)
			for i, datum := range hc.data {
				body, err := wc.BinaryFromNative(nil, datum)
				if err != nil {
					t.Fatal(err)
				}
				got, err := res.Decode(body)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				want, err := hambaDecode(hr, hw, body)
				if err != nil {
					t.Fatalf("record %d: hamba: %v", i, err)
				}
				gs, err1 := flavorGoavro.norm(rn, nil, got)
				hs, err2 := flavorHamba.norm(rn, wn, want)
				if err1 != nil || err2 != nil || gs != hs {
					t.Errorf("record %d:\nResolver: %s %v\nhamba:    %s %v", i, gs, err1, hs, err2)
				}
			}
		})
	}
}

// TestHambaOracleAliases: alias cases the generator keeps out, because
// resolve.go reads them otherwise than hamba, Apache Avro Java and the
// Python library's static check, which follow the specification's model
// of aliases ("Aliases function by re-writing the writer's schema using
// aliases from the reader's schema"; an alias is a full name). Each known
// divergence skips, naming itself, until resolve.go changes; a case that
// agrees passes, and one that newly differs fails.
func TestHambaOracleAliases(t *testing.T) {
	cases := []struct {
		name, writer, reader string
		datum                map[string]any
		divergence           string
	}{
		{
			name:   "a field renamed, its old name reused for a new field",
			writer: `{"type":"record","name":"User","namespace":"gen","fields":[{"name":"name","type":"string"}]}`,
			reader: `{"type":"record","name":"User","namespace":"gen","fields":[
				{"name":"full_name","type":"string","aliases":["name"]},
				{"name":"name","type":"string","default":""}]}`,
			datum: map[string]any{"name": "Ada Lovelace"},
		},
		{
			name:   "a record alias in another namespace",
			writer: `{"type":"record","name":"Old","namespace":"gen","fields":[{"name":"a","type":"string"}]}`,
			reader: `{"type":"record","name":"New","namespace":"gen","aliases":["elsewhere.Old"],"fields":[{"name":"a","type":"string"}]}`,
			datum:  map[string]any{"a": "x"},
		},
		{
			name:   "a record alias given unqualified",
			writer: `{"type":"record","name":"Old","namespace":"gen","fields":[{"name":"a","type":"string"}]}`,
			reader: `{"type":"record","name":"New","namespace":"gen","aliases":["Old"],"fields":[{"name":"a","type":"string"}]}`,
			datum:  map[string]any{"a": "x"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issues, err := Compatibility(tc.reader, tc.writer)
			if err != nil {
				t.Fatal(err)
			}
			hw, err := hambaParse(tc.writer)
			if err != nil {
				t.Fatal(err)
			}
			hr, err := hambaParse(tc.reader)
			if err != nil {
				t.Fatal(err)
			}
			var diff string
			herr := avro.NewSchemaCompatibility().Compatible(hr, hw)
			if (len(issues) == 0) != (herr == nil) {
				diff = fmt.Sprintf("Compatibility %v, hamba %v", issues, herr)
			} else if len(issues) == 0 {
				wc, err := goavro.NewCodec(tc.writer)
				if err != nil {
					t.Fatal(err)
				}
				body, err := wc.BinaryFromNative(nil, tc.datum)
				if err != nil {
					t.Fatal(err)
				}
				res, err := NewResolver(tc.writer, tc.reader)
				if err != nil {
					t.Fatal(err)
				}
				got, err := res.Decode(body)
				if err != nil {
					t.Fatal(err)
				}
				want, err := hambaDecode(hr, hw, body)
				if err != nil {
					t.Fatal(err)
				}
				wn, _ := parseSchema(tc.writer)
				rn, _ := parseSchema(tc.reader)
				gs, err1 := flavorGoavro.norm(rn, nil, got)
				hs, err2 := flavorHamba.norm(rn, wn, want)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if gs != hs {
					diff = fmt.Sprintf("Resolver %s, hamba %s", gs, hs)
				}
			}
			switch {
			case diff != "" && tc.divergence != "":
				t.Skipf("known divergence (%s): %s", diff, tc.divergence)
			case diff != "":
				t.Error(diff)
			case tc.divergence != "":
				t.Errorf("resolve.go now agrees with hamba; drop the divergence note: %s", tc.divergence)
			}
		})
	}
}
