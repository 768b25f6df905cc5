package codecs

import (
	"fmt"
	"math"
	"slices"

	"github.com/linkedin/goavro/v2"
)

// Schema resolution, as the Avro specification defines it ("Schema
// Resolution"): data written with one schema (the writer's) is read as
// another (the reader's). goavro decodes with the writer's schema; a plan,
// compiled once per (writer, reader) pair, turns goavro's native form of the
// writer's record into the native form of the reader's:
//
//   - record fields are matched by name, or by the reader field's aliases;
//     a reader field the writer lacks takes its default; a writer field the
//     reader lacks is skipped. Records match when their unqualified names
//     are equal or the reader lists the writer's name among its aliases.
//   - int promotes to long, float and double; long to float and double;
//     float to double; string and bytes convert both ways.
//   - an enum symbol the reader lacks becomes the reader enum's default.
//   - a writer union value is resolved by its branch; a value read into a
//     reader union takes the first reader branch of the same type and name,
//     else the first it can be promoted to (Apache Avro Java's choice; the
//     specification just says "the first that matches").
//   - arrays, maps and nested records resolve recursively.
//
// Compiling a plan also lists every incompatibility, named as Confluent
// Schema Registry names them. A plan still compiles when there are some: the
// parts that cannot be resolved fail when a record reaches them (an enum
// symbol with no reader default, a union branch the reader lacks), so that
// records that never touch them still read.

// Incompatibility is one reason a reader cannot read what a writer wrote.
type Incompatibility struct {
	// Path locates it in the reader's schema: "LogEvent.labels" or
	// "LogEvent.attrs[]" (array items), "LogEvent.m{}" (map values).
	Path string
	// Field is the record field involved, "" when none.
	Field string
	// Rule is the broken rule, with Confluent's names:
	// READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH, NAME_MISMATCH,
	// FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS, MISSING_UNION_BRANCH.
	Rule string
	// Detail says it in words.
	Detail string
}

func (i Incompatibility) String() string {
	loc := i.Path
	if i.Field != "" {
		loc = fmt.Sprintf("field %q (%s)", i.Field, i.Path)
	}
	return fmt.Sprintf("%s: %s: %s", loc, i.Rule, i.Detail)
}

// Incompatibility rules.
const (
	RuleMissingDefault    = "READER_FIELD_MISSING_DEFAULT_VALUE"
	RuleTypeMismatch      = "TYPE_MISMATCH"
	RuleNameMismatch      = "NAME_MISMATCH"
	RuleFixedSize         = "FIXED_SIZE_MISMATCH"
	RuleMissingEnumSymbol = "MISSING_ENUM_SYMBOLS"
	RuleMissingUnion      = "MISSING_UNION_BRANCH"
)

// step converts one native value of the writer's type into the reader's.
type step func(any) (any, error)

// Compatibility lists why a reader of readerSchema cannot read every record
// written with writerSchema; none means it can. It fails only when a schema
// does not parse.
func Compatibility(readerSchema, writerSchema string) ([]Incompatibility, error) {
	r, err := parseSchema(readerSchema)
	if err != nil {
		return nil, fmt.Errorf("reader schema: %w", err)
	}
	w, err := parseSchema(writerSchema)
	if err != nil {
		return nil, fmt.Errorf("writer schema: %w", err)
	}
	_, issues := compilePlan(w, r)
	return issues, nil
}

// compilePlan builds the step from w's native form to r's.
func compilePlan(w, r *node) (step, []Incompatibility) {
	c := &planner{memo: map[[2]*node]*step{}}
	s := c.compile(w, r, rootPath(r))
	return s, c.issues
}

func rootPath(r *node) string {
	if r.kind == kindRecord {
		return r.short()
	}
	return r.describe()
}

type planner struct {
	// memo holds the plan of each named pair being or already compiled, so
	// recursive schemas compile to a finite graph of steps.
	memo   map[[2]*node]*step
	issues []Incompatibility
	// field is the record field being compiled, for issues.
	field string
}

func (c *planner) issue(path, rule, format string, args ...any) step {
	detail := fmt.Sprintf(format, args...)
	c.issues = append(c.issues, Incompatibility{Path: path, Field: c.field, Rule: rule, Detail: detail})
	err := fmt.Errorf("%s: %s", path, detail)
	return func(any) (any, error) { return nil, err }
}

func (c *planner) compile(w, r *node, path string) step {
	if r.kind == kindUnion {
		return c.toUnion(w, r, path)
	}
	if w.kind == kindUnion {
		return c.fromUnion(w, r, path)
	}
	switch {
	case r.kind == w.kind && r.kind <= kindString:
		return logicalStep(w, r, identity)
	case r.kind == kindRecord && w.kind == kindRecord:
		return c.named(w, r, path, c.record)
	case r.kind == kindEnum && w.kind == kindEnum:
		return c.named(w, r, path, c.enum)
	case r.kind == kindFixed && w.kind == kindFixed:
		if !namesMatch(w, r) {
			return c.issue(path, RuleNameMismatch, "the writer's fixed is %s, the reader's %s", w.name, r.name)
		}
		if w.size != r.size {
			return c.issue(path, RuleFixedSize, "the writer's fixed %s has %d bytes, the reader's %d", w.name, w.size, r.size)
		}
		return identity
	case r.kind == kindArray && w.kind == kindArray:
		items := c.compile(w.items, r.items, path+"[]")
		return func(v any) (any, error) {
			in, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: goavro decoded %T, want an array", path, v)
			}
			out := make([]any, len(in))
			for i, x := range in {
				y, err := items(x)
				if err != nil {
					return nil, err
				}
				out[i] = y
			}
			return out, nil
		}
	case r.kind == kindMap && w.kind == kindMap:
		values := c.compile(w.values, r.values, path+"{}")
		return func(v any) (any, error) {
			in, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: goavro decoded %T, want a map", path, v)
			}
			out := make(map[string]any, len(in))
			for k, x := range in {
				y, err := values(x)
				if err != nil {
					return nil, err
				}
				out[k] = y
			}
			return out, nil
		}
	}
	if p := promotion(w.kind, r.kind); p != nil {
		return logicalStep(w, r, p)
	}
	return c.issue(path, RuleTypeMismatch, "the writer's %s cannot be read as the reader's %s", w.describe(), r.describe())
}

func identity(v any) (any, error) { return v, nil }

// logicalStep wraps a conversion of underlying values with the logical
// types' conversions on each side.
func logicalStep(w, r *node, conv step) step {
	if !hasGoLogical(w) && !hasGoLogical(r) {
		return conv
	}
	if w.logical == r.logical {
		return conv
	}
	return func(v any) (any, error) {
		x, err := conv(toRaw(w, v))
		if err != nil {
			return nil, err
		}
		return fromRaw(r, x), nil
	}
}

// promotion returns the conversion from writer kind wk to reader kind rk
// when the specification allows it.
func promotion(wk, rk kind) step {
	switch {
	case wk == kindInt && rk == kindLong:
		return func(v any) (any, error) { return int64(v.(int32)), nil }
	case wk == kindInt && rk == kindFloat:
		return func(v any) (any, error) { return float32(v.(int32)), nil }
	case wk == kindInt && rk == kindDouble:
		return func(v any) (any, error) { return float64(v.(int32)), nil }
	case wk == kindLong && rk == kindFloat:
		return func(v any) (any, error) { return float32(v.(int64)), nil }
	case wk == kindLong && rk == kindDouble:
		return func(v any) (any, error) { return float64(v.(int64)), nil }
	case wk == kindFloat && rk == kindDouble:
		return func(v any) (any, error) {
			f := v.(float32)
			if math.IsNaN(float64(f)) {
				return math.NaN(), nil
			}
			return float64(f), nil
		}
	case wk == kindString && rk == kindBytes:
		return func(v any) (any, error) { return []byte(v.(string)), nil }
	case wk == kindBytes && rk == kindString:
		return func(v any) (any, error) { return string(v.([]byte)), nil }
	}
	return nil
}

// namesMatch: the unqualified names are equal, or one of the reader's
// aliases (full names, relative ones resolved against the reader's
// namespace when parsed) is the writer's full name.
func namesMatch(w, r *node) bool {
	if w.short() == r.short() {
		return true
	}
	return slices.Contains(r.aliases, w.name)
}

// named compiles a record or enum pair once, through the memo, so that a
// recursive schema refers back to the plan being built.
func (c *planner) named(w, r *node, path string, build func(w, r *node, path string) step) step {
	key := [2]*node{w, r}
	if p, ok := c.memo[key]; ok {
		return func(v any) (any, error) { return (*p)(v) }
	}
	if !namesMatch(w, r) {
		return c.issue(path, RuleNameMismatch, "the writer's %s is not the reader's %s (and not among its aliases)", w.describe(), r.describe())
	}
	p := new(step)
	c.memo[key] = p
	*p = build(w, r, path)
	return *p
}

func (c *planner) record(w, r *node, path string) step {
	// The record's native map comes fresh from goavro and nobody else holds
	// it, so the step edits it in place: fields whose value needs no
	// conversion under the same name are left alone, writer-only fields are
	// deleted, and only the rest is computed. That saves a map per record.
	type fieldStep struct {
		name   string // reader's
		wname  string // writer's, "" to take the default
		conv   step
		def    func() any
		failed step
	}
	var (
		steps []fieldStep // every reader field that is not left alone
	)
	outer := c.field
	defer func() { c.field = outer }()
	for _, rf := range r.fields {
		c.field = rf.name
		fpath := path + "." + rf.name
		wf := findField(w, r, rf)
		switch {
		case wf != nil:
			if wf.name == rf.name && sameSchema(wf.typ, rf.typ, map[[2]*node]bool{}) {
				continue
			}
			steps = append(steps, fieldStep{name: rf.name, wname: wf.name, conv: c.compile(wf.typ, rf.typ, fpath)})
		case rf.hasDefault:
			steps = append(steps, fieldStep{name: rf.name, def: rf.def})
		default:
			steps = append(steps, fieldStep{name: rf.name, failed: c.issue(fpath, RuleMissingDefault,
				"the reader's field %s has no default, and the writer's %s has no field %s", rf.name, w.name, rf.name)})
		}
	}
	readerHas := map[string]bool{}
	for _, rf := range r.fields {
		readerHas[rf.name] = true
	}
	var drop []string // writer fields that no reader field keeps
	for _, wf := range w.fields {
		if !readerHas[wf.name] {
			drop = append(drop, wf.name)
		}
	}
	return func(v any) (any, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: goavro decoded %T, want a record", path, v)
		}
		if len(steps) == 0 && len(drop) == 0 {
			return m, nil
		}
		// Compute every new value before changing m, so that renames
		// (even two fields swapping names) read the writer's values.
		var small [8]any
		vals := small[:0]
		for _, s := range steps {
			switch {
			case s.failed != nil:
				return s.failed(nil)
			case s.wname == "":
				vals = append(vals, s.def())
			default:
				y, err := s.conv(m[s.wname])
				if err != nil {
					return nil, err
				}
				vals = append(vals, y)
			}
		}
		for _, name := range drop {
			delete(m, name)
		}
		for i, s := range steps {
			m[s.name] = vals[i]
		}
		return m, nil
	}
}

// sameSchema reports whether w and r are the same schema in everything that
// shapes goavro's native form, so a value of w is already a value of r.
func sameSchema(w, r *node, seen map[[2]*node]bool) bool {
	if w == r {
		return true
	}
	if w.kind != r.kind || w.logical != r.logical || w.name != r.name {
		return false
	}
	switch w.kind {
	case kindEnum:
		return slices.Equal(w.symbols, r.symbols)
	case kindFixed:
		return w.size == r.size
	case kindArray:
		return sameSchema(w.items, r.items, seen)
	case kindMap:
		return sameSchema(w.values, r.values, seen)
	case kindUnion:
		if len(w.branches) != len(r.branches) {
			return false
		}
		for i := range w.branches {
			if !sameSchema(w.branches[i], r.branches[i], seen) {
				return false
			}
		}
		return true
	case kindRecord:
		key := [2]*node{w, r}
		if seen[key] {
			return true // recursion: assume equal, any difference shows elsewhere
		}
		seen[key] = true
		if len(w.fields) != len(r.fields) {
			return false
		}
		for i, wf := range w.fields {
			rf := r.fields[i]
			if wf.name != rf.name || !sameSchema(wf.typ, rf.typ, seen) {
				return false
			}
		}
		return true
	}
	return true // the same primitive
}

// findField finds the writer's field for reader field rf. Aliases rewrite
// the writer's schema first (as the specification and Apache Avro Java
// apply them): a writer field named in some reader field's aliases belongs
// to that reader field, even when another reader field has its name. So a
// field renamed from "name" to "full_name" (alias "name") takes the
// writer's "name", and a new reader field "name" takes its default.
func findField(w, r *node, rf *field) *field {
	for _, a := range rf.aliases {
		for _, wf := range w.fields {
			if wf.name == a {
				return wf
			}
		}
	}
	for _, wf := range w.fields {
		if wf.name != rf.name {
			continue
		}
		for _, other := range r.fields {
			if other != rf && slices.Contains(other.aliases, wf.name) {
				return nil // renamed away by other's alias
			}
		}
		return wf
	}
	return nil
}

func (c *planner) enum(w, r *node, path string) step {
	mapping := make(map[string]string, len(w.symbols))
	var missing []string
	for _, s := range w.symbols {
		switch {
		case slices.Contains(r.symbols, s):
			mapping[s] = s
		case r.enumDefault != "":
			mapping[s] = r.enumDefault
		default:
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.issue(path, RuleMissingEnumSymbol, "the reader's enum %s lacks the writer's symbols %v and has no default", r.name, missing)
	}
	return func(v any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: goavro decoded %T, want an enum symbol", path, v)
		}
		out, ok := mapping[s]
		if !ok {
			return nil, fmt.Errorf("%s: the reader's enum %s has no symbol %q and no default", path, r.name, s)
		}
		return out, nil
	}
}

// branchFor finds the reader union branch for a writer schema: the first
// of the same type (and name), else the first w promotes to.
func branchFor(w *node, r *node) int {
	for i, b := range r.branches {
		if sameType(w, b) {
			return i
		}
	}
	for i, b := range r.branches {
		if w.kind <= kindString && b.kind <= kindString && promotion(w.kind, b.kind) != nil {
			return i
		}
	}
	return -1
}

func sameType(w, b *node) bool {
	if w.kind != b.kind {
		return false
	}
	switch w.kind {
	case kindRecord, kindEnum, kindFixed:
		return namesMatch(w, b)
	}
	return true
}

// wrap puts a value into the union form goavro decodes for branch b.
func wrap(b *node, conv step) step {
	if b.kind == kindNull {
		return func(v any) (any, error) {
			if _, err := conv(v); err != nil {
				return nil, err
			}
			return nil, nil
		}
	}
	name := b.typeName()
	return func(v any) (any, error) {
		y, err := conv(v)
		if err != nil {
			return nil, err
		}
		return map[string]any{name: y}, nil
	}
}

func (c *planner) toUnion(w, r *node, path string) step {
	if w.kind != kindUnion {
		i := branchFor(w, r)
		if i < 0 {
			return c.issue(path, RuleMissingUnion, "the reader's %s has no branch for the writer's %s", r.describe(), w.describe())
		}
		return wrap(r.branches[i], c.compile(w, r.branches[i], path))
	}
	// Writer union to reader union: one step per writer branch.
	byName := make(map[string]step, len(w.branches))
	var nullStep step
	for _, wb := range w.branches {
		var s step
		if i := branchFor(wb, r); i < 0 {
			s = c.issue(path, RuleMissingUnion, "the reader's %s has no branch for the writer's %s", r.describe(), wb.describe())
		} else {
			s = wrap(r.branches[i], c.compile(wb, r.branches[i], path))
		}
		if wb.kind == kindNull {
			nullStep = s
		} else {
			byName[wb.typeName()] = s
		}
	}
	return unionStep(path, nullStep, byName)
}

func (c *planner) fromUnion(w, r *node, path string) step {
	byName := make(map[string]step, len(w.branches))
	var nullStep step
	for _, wb := range w.branches {
		// A branch the reader cannot read is a TYPE_MISMATCH (or a name
		// or size mismatch), reported by compile itself.
		s := c.compile(wb, r, path)
		if wb.kind == kindNull {
			nullStep = s
		} else {
			byName[wb.typeName()] = s
		}
	}
	return unionStep(path, nullStep, byName)
}

// unionStep dispatches on the branch of a decoded writer union value: nil
// for null, else a one-entry map keyed by the branch's type name.
func unionStep(path string, nullStep step, byName map[string]step) step {
	return func(v any) (any, error) {
		if v == nil {
			if nullStep == nil {
				return nil, fmt.Errorf("%s: null, which the writer's union has no branch for", path)
			}
			return nullStep(nil)
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("%s: goavro decoded %T, want a union value", path, v)
		}
		for name, x := range m {
			s, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("%s: union branch %q is not the writer's", path, name)
			}
			return s(x)
		}
		return nil, nil // unreachable: len(m) == 1
	}
}

// Resolver reads Avro binary bodies written with one schema as another.
// Codecs build their own; this is for tools and tests that hold schema text.
type Resolver struct {
	writer *goavro.Codec
	shape  *shape
	plan   step
	// Issues are the incompatibilities found; records that reach them fail.
	Issues []Incompatibility
}

// NewResolver compiles the resolution of writerSchema to readerSchema.
func NewResolver(writerSchema, readerSchema string) (*Resolver, error) {
	w, err := parseSchema(writerSchema)
	if err != nil {
		return nil, fmt.Errorf("codecs: writer schema: %w", err)
	}
	r, err := parseSchema(readerSchema)
	if err != nil {
		return nil, fmt.Errorf("codecs: reader schema: %w", err)
	}
	wc, err := goavro.NewCodec(writerSchema)
	if err != nil {
		return nil, fmt.Errorf("codecs: writer schema: %w", err)
	}
	sh, err := parseShape(writerSchema)
	if err != nil {
		return nil, fmt.Errorf("codecs: writer schema: %w", err)
	}
	plan, issues := compilePlan(w, r)
	return &Resolver{writer: wc, shape: sh, plan: plan, Issues: issues}, nil
}

// Decode reads one Avro binary body (no header) written with the writer
// schema and returns goavro's native form of it as the reader schema.
func (r *Resolver) Decode(body []byte) (v any, err error) {
	if err := r.shape.check(body); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("goavro panicked: %v", p)
		}
	}()
	native, rest, err := r.writer.NativeFromBinary(body)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(rest))
	}
	return r.plan(native)
}
