package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// maxRequestBody bounds the body of a schema lookup: logstream's largest
// schema is a few kilobytes.
const maxRequestBody = 1 << 20

// Handler serves a read-only Confluent Schema Registry API over a schemas
// catalog (see the package documentation for the endpoints). It does not
// change after NewHandler and is safe for concurrent use.
type Handler struct {
	subjects  []string // sorted
	bySubject map[string]*subject
	byID      map[int]*idEntry
	routes    []route
}

// subject is one subject and the record it serves.
type subject struct {
	name     string
	mode     schemas.Mode
	versions []*idEntry // version v is versions[v-1]
}

// idEntry is one schema id: one version of one record.
type idEntry struct {
	schema schemas.Schema
	text   string              // the .avsc, compacted to one line
	uses   []subjectAndVersion // sorted by subject
}

// NewHandler returns a Handler serving cat: schema ids are the manifest
// ids of every version in cat, and subjects maps each subject to the record
// whose versions it lists (see Subjects). It fails when a subject names a
// record whose versions are not in cat.
func NewHandler(cat *schemas.Catalog, subjects map[string]schemas.Record) (*Handler, error) {
	if cat == nil {
		return nil, fmt.Errorf("registry: no catalog")
	}
	h := &Handler{bySubject: map[string]*subject{}, byID: map[int]*idEntry{}}
	for _, s := range cat.Schemas() {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(s.JSON)); err != nil {
			return nil, fmt.Errorf("registry: %s: %v", s.File, err)
		}
		// Whitespace is not part of the parsing canonical form, so the
		// compacted text keeps the fingerprint; check rather than trust.
		fp, err := schemas.Fingerprint(buf.String())
		if err != nil {
			return nil, fmt.Errorf("registry: %s: %v", s.File, err)
		}
		if fp != s.Fingerprint {
			return nil, fmt.Errorf("registry: %s: compacted text has fingerprint %016x, the catalog says %016x", s.File, fp, s.Fingerprint)
		}
		h.byID[s.ID] = &idEntry{schema: s, text: buf.String()}
	}
	for name, rec := range subjects {
		if name == "" {
			return nil, fmt.Errorf("registry: empty subject name for record %s", rec.Name)
		}
		if len(rec.Versions) == 0 {
			return nil, fmt.Errorf("registry: subject %s: record %s has no versions", name, rec.Name)
		}
		sub := &subject{name: name, mode: rec.Mode}
		if sub.mode == "" {
			sub.mode = schemas.DefaultMode
		}
		for i, v := range rec.Versions {
			e, ok := h.byID[v.ID]
			if !ok || e.schema.Fingerprint != v.Fingerprint || v.Version != i+1 {
				return nil, fmt.Errorf("registry: subject %s: %s (id %d) is not version %d of a record in the catalog", name, v.File, v.ID, i+1)
			}
			sub.versions = append(sub.versions, e)
			e.uses = append(e.uses, subjectAndVersion{Subject: name, Version: v.Version})
		}
		h.bySubject[name] = sub
		h.subjects = append(h.subjects, name)
	}
	sort.Strings(h.subjects)
	for _, e := range h.byID {
		sort.Slice(e.uses, func(i, j int) bool { return e.uses[i].Subject < e.uses[j].Subject })
	}
	h.routes = h.table()
	return h, nil
}

// params holds a matched route's path parameters.
type params map[string]string

// apiError is an error response.
type apiError struct {
	status int
	code   int
	msg    string
}

func errorf(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// rawJSON is a response body that is already JSON: a schema itself.
type rawJSON string

type route struct {
	method string
	path   []string // segments; "{name}" matches any one segment
	handle func(r *http.Request, p params) (any, *apiError)
}

// table lists every path of the API. The writes are there so that they
// answer "read-only" rather than "no such path".
func (h *Handler) table() []route {
	rt := func(method, path string, f func(*http.Request, params) (any, *apiError)) route {
		var segs []string
		if path != "/" {
			segs = strings.Split(strings.TrimPrefix(path, "/"), "/")
		}
		return route{method: method, path: segs, handle: f}
	}
	return []route{
		rt(http.MethodGet, "/", func(*http.Request, params) (any, *apiError) { return struct{}{}, nil }),

		rt(http.MethodGet, "/subjects", h.listSubjects),
		rt(http.MethodPost, "/subjects/{subject}", h.lookup),
		rt(http.MethodDelete, "/subjects/{subject}", readOnly("subject '%s' cannot be deleted")),
		rt(http.MethodGet, "/subjects/{subject}/versions", h.listVersions),
		rt(http.MethodPost, "/subjects/{subject}/versions", h.register),
		rt(http.MethodGet, "/subjects/{subject}/versions/{version}", h.getVersion),
		rt(http.MethodDelete, "/subjects/{subject}/versions/{version}", readOnly("subject '%s' cannot lose a version")),
		rt(http.MethodGet, "/subjects/{subject}/versions/{version}/schema", h.getVersionSchema),
		rt(http.MethodGet, "/subjects/{subject}/versions/{version}/referencedby", h.referencedBy),

		rt(http.MethodGet, "/schemas", h.listSchemas),
		rt(http.MethodGet, "/schemas/types", func(*http.Request, params) (any, *apiError) { return []string{SchemaTypeAvro}, nil }),
		rt(http.MethodGet, "/schemas/ids/{id}", h.schemaByID),
		rt(http.MethodGet, "/schemas/ids/{id}/schema", h.schemaByIDRaw),
		rt(http.MethodGet, "/schemas/ids/{id}/versions", h.schemaByIDVersions),
		rt(http.MethodGet, "/schemas/ids/{id}/subjects", h.schemaByIDSubjects),

		rt(http.MethodPost, "/compatibility/subjects/{subject}/versions", h.compatibility),
		rt(http.MethodPost, "/compatibility/subjects/{subject}/versions/{version}", h.compatibility),

		rt(http.MethodGet, "/config", h.globalConfig),
		rt(http.MethodPut, "/config", readOnly("the global compatibility level cannot be changed")),
		rt(http.MethodDelete, "/config", readOnly("the global compatibility level cannot be changed")),
		rt(http.MethodGet, "/config/{subject}", h.subjectConfig),
		rt(http.MethodPut, "/config/{subject}", readOnly("the compatibility level of subject '%s' cannot be changed")),
		rt(http.MethodDelete, "/config/{subject}", readOnly("the compatibility level of subject '%s' cannot be changed")),

		rt(http.MethodGet, "/mode", func(*http.Request, params) (any, *apiError) { return modeBody{ModeReadOnly}, nil }),
		rt(http.MethodPut, "/mode", readOnly("the mode cannot be changed")),
		rt(http.MethodGet, "/mode/{subject}", h.subjectMode),
		rt(http.MethodPut, "/mode/{subject}", readOnly("the mode of subject '%s' cannot be changed")),
		rt(http.MethodDelete, "/mode/{subject}", readOnly("the mode of subject '%s' cannot be changed")),
	}
}

// ServeHTTP answers one request. Every response, errors included, is JSON
// with Content-Type ContentType.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, errorf(http.StatusNotFound, codeNotFound, "HTTP 404 Not Found"))
		return
	}
	var allowed []string
	for _, rt := range h.routes {
		p, ok := match(rt.path, segs)
		if !ok {
			continue
		}
		if rt.method == r.Method || (r.Method == http.MethodHead && rt.method == http.MethodGet) {
			v, err := rt.handle(r, p)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, v)
			return
		}
		allowed = append(allowed, rt.method)
		if rt.method == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	if len(allowed) > 0 {
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(slices.Compact(allowed), ", "))
		writeError(w, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "HTTP 405 Method Not Allowed"))
		return
	}
	writeError(w, errorf(http.StatusNotFound, codeNotFound, "HTTP 404 Not Found"))
}

// splitPath splits an escaped URL path into unescaped segments, so that a
// subject name may hold an escaped "/". A trailing slash is ignored.
func splitPath(escaped string) ([]string, bool) {
	escaped = strings.TrimSuffix(strings.TrimPrefix(escaped, "/"), "/")
	if escaped == "" {
		return nil, true
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

func match(pattern, segs []string) (params, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var p params
	for i, want := range pattern {
		if strings.HasPrefix(want, "{") {
			if p == nil {
				p = params{}
			}
			p[strings.Trim(want, "{}")] = segs[i]
		} else if want != segs[i] {
			return nil, false
		}
	}
	return p, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var body []byte
	if raw, ok := v.(rawJSON); ok {
		body = []byte(raw)
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // schemas' docs may hold <, > and &; keep them readable
		if err := enc.Encode(v); err != nil {
			status = http.StatusInternalServerError
			buf.Reset()
			_ = json.NewEncoder(&buf).Encode(errorBody{ErrorCode: codeInternal, Message: "cannot encode the response: " + err.Error()})
		}
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{ErrorCode: e.code, Message: e.msg})
}

// ---- subjects ----

func (h *Handler) subject(name string) (*subject, *apiError) {
	s, ok := h.bySubject[name]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeSubjectNotFound, "Subject '%s' not found.", name)
	}
	return s, nil
}

// version resolves a version id: 1, 2, ..., "latest" or -1.
func (s *subject) version(spec string) (*idEntry, int, *apiError) {
	if spec == "latest" {
		return s.versions[len(s.versions)-1], len(s.versions), nil
	}
	v, err := strconv.ParseInt(spec, 10, 32)
	if err != nil || v == 0 || v < -1 {
		return nil, 0, errorf(http.StatusUnprocessableEntity, CodeInvalidVersion,
			`The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`, spec)
	}
	if v == -1 {
		return s.versions[len(s.versions)-1], len(s.versions), nil
	}
	if int(v) > len(s.versions) {
		return nil, 0, errorf(http.StatusNotFound, CodeVersionNotFound, "Version %d not found.", v)
	}
	return s.versions[v-1], int(v), nil
}

func (h *Handler) subjectVersion(p params) (*subject, *idEntry, int, *apiError) {
	s, err := h.subject(p["subject"])
	if err != nil {
		return nil, nil, 0, err
	}
	e, v, err := s.version(p["version"])
	return s, e, v, err
}

func (s *subject) response(e *idEntry, v int) subjectVersion {
	return subjectVersion{Subject: s.name, Version: v, ID: e.schema.ID, Schema: e.text}
}

func prefixOf(r *http.Request) string {
	p := r.URL.Query().Get("subjectPrefix")
	if p == ":*:" { // Confluent's "every subject of the default context"
		return ""
	}
	return p
}

func (h *Handler) listSubjects(r *http.Request, _ params) (any, *apiError) {
	prefix := prefixOf(r)
	out := []string{}
	for _, s := range h.subjects {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (h *Handler) listVersions(_ *http.Request, p params) (any, *apiError) {
	s, err := h.subject(p["subject"])
	if err != nil {
		return nil, err
	}
	out := make([]int, len(s.versions))
	for i := range out {
		out[i] = i + 1
	}
	return out, nil
}

func (h *Handler) getVersion(_ *http.Request, p params) (any, *apiError) {
	s, e, v, err := h.subjectVersion(p)
	if err != nil {
		return nil, err
	}
	return s.response(e, v), nil
}

func (h *Handler) getVersionSchema(_ *http.Request, p params) (any, *apiError) {
	_, e, _, err := h.subjectVersion(p)
	if err != nil {
		return nil, err
	}
	return rawJSON(e.text), nil
}

// referencedBy lists the schemas that reference the version: none, since
// logstream's schemas use no references.
func (h *Handler) referencedBy(_ *http.Request, p params) (any, *apiError) {
	if _, _, _, err := h.subjectVersion(p); err != nil {
		return nil, err
	}
	return []int{}, nil
}

// listSchemas is GET /schemas: every version of every subject, or the
// latest of each with latestOnly=true.
func (h *Handler) listSchemas(r *http.Request, _ params) (any, *apiError) {
	prefix := prefixOf(r)
	latestOnly, _ := strconv.ParseBool(r.URL.Query().Get("latestOnly"))
	out := []subjectVersion{}
	for _, name := range h.subjects {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		s := h.bySubject[name]
		for i, e := range s.versions {
			if latestOnly && i != len(s.versions)-1 {
				continue
			}
			out = append(out, s.response(e, i+1))
		}
	}
	return out, nil
}

// ---- schema lookup and registration ----

// readSchema reads a lookup or registration request and returns the
// CRC-64-AVRO fingerprint of its schema's parsing canonical form.
func readSchema(r *http.Request) (uint64, *apiError) {
	fp, _, err := readSchemaText(r)
	return fp, err
}

// readSchemaText reads a schema request and returns the schema's
// fingerprint and text.
func readSchemaText(r *http.Request) (uint64, string, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return 0, "", errorf(http.StatusBadRequest, codeBadRequest, "cannot read the request: %v", err)
	}
	if len(body) > maxRequestBody {
		return 0, "", errorf(http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "the request is larger than %d bytes", maxRequestBody)
	}
	var req schemaRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, "", errorf(http.StatusBadRequest, codeBadRequest, "the request is not a schema request ({\"schema\": \"...\"}): %v", err)
	}
	if req.SchemaType != "" && !strings.EqualFold(req.SchemaType, SchemaTypeAvro) {
		return 0, "", errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Invalid schema type %s: this registry holds Avro schemas only", req.SchemaType)
	}
	if strings.TrimSpace(req.Schema) == "" {
		return 0, "", errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Empty schema")
	}
	if _, err := goavro.NewCodec(req.Schema); err != nil {
		return 0, "", errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Invalid schema: %v", err)
	}
	fp, err := schemas.Fingerprint(req.Schema)
	if err != nil {
		return 0, "", errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Invalid schema: %v", err)
	}
	return fp, req.Schema, nil
}

// find returns the subject's version with fingerprint fp. Matching on the
// fingerprint makes whitespace, doc strings, defaults and field order of
// attributes irrelevant, as the parsing canonical form leaves them out.
func (s *subject) find(fp uint64) (*idEntry, int, bool) {
	for i, e := range s.versions {
		if e.schema.Fingerprint == fp {
			return e, i + 1, true
		}
	}
	return nil, 0, false
}

// lookup is POST /subjects/{subject}: is this schema a version of the
// subject?
func (h *Handler) lookup(r *http.Request, p params) (any, *apiError) {
	s, err := h.subject(p["subject"])
	if err != nil {
		return nil, err
	}
	fp, err := readSchema(r)
	if err != nil {
		return nil, err
	}
	e, v, ok := s.find(fp)
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeSchemaNotFound, "Schema not found")
	}
	return s.response(e, v), nil
}

// readOnlyHelp says where schemas change instead.
const readOnlyHelp = "this registry is read-only. It serves logstream's schemas/ directory, which is the source of truth: " +
	"to evolve a schema, add schemas/<record>/v<N>.avsc in the repository, run `logstream schemas manifest --write` " +
	"and `logstream schemas check`, and deploy"

// register is POST /subjects/{subject}/versions. Like Confluent's registry
// in READONLY mode, it answers a schema that already is a version of the
// subject with its id (so serializers that register before they write
// work) and refuses anything else.
func (h *Handler) register(r *http.Request, p params) (any, *apiError) {
	name := p["subject"]
	fp, err := readSchema(r)
	if err != nil {
		return nil, err
	}
	if s, ok := h.bySubject[name]; ok {
		if e, _, ok := s.find(fp); ok {
			return struct {
				ID int `json:"id"`
			}{e.schema.ID}, nil
		}
	}
	return nil, errorf(http.StatusUnprocessableEntity, CodeOperationNotPermitted,
		"Subject '%s' is in read-only mode: a schema that is not yet one of its versions cannot be registered; %s", name, readOnlyHelp)
}

// readOnly answers a write; what names the refused change, with '%s' for
// the subject's name.
func readOnly(what string) func(*http.Request, params) (any, *apiError) {
	return func(_ *http.Request, p params) (any, *apiError) {
		msg := what
		if strings.Contains(what, "%s") {
			msg = fmt.Sprintf(what, p["subject"])
		}
		return nil, errorf(http.StatusUnprocessableEntity, CodeOperationNotPermitted, "%s: %s", upperFirst(msg), readOnlyHelp)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ---- schemas by id ----

func (h *Handler) entry(p params) (*idEntry, *apiError) {
	id, err := strconv.Atoi(p["id"])
	e, ok := h.byID[id]
	if err != nil || !ok {
		return nil, errorf(http.StatusNotFound, CodeSchemaNotFound, "Schema %s not found", p["id"])
	}
	return e, nil
}

func (h *Handler) schemaByID(_ *http.Request, p params) (any, *apiError) {
	e, err := h.entry(p)
	if err != nil {
		return nil, err
	}
	return schemaByID{Schema: e.text}, nil
}

func (h *Handler) schemaByIDRaw(_ *http.Request, p params) (any, *apiError) {
	e, err := h.entry(p)
	if err != nil {
		return nil, err
	}
	return rawJSON(e.text), nil
}

func (h *Handler) schemaByIDVersions(_ *http.Request, p params) (any, *apiError) {
	e, err := h.entry(p)
	if err != nil {
		return nil, err
	}
	return append([]subjectAndVersion{}, e.uses...), nil
}

func (h *Handler) schemaByIDSubjects(_ *http.Request, p params) (any, *apiError) {
	e, err := h.entry(p)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, u := range e.uses {
		out = append(out, u.Subject)
	}
	return slices.Compact(out), nil
}

// ---- config and mode ----

type configBody struct {
	CompatibilityLevel schemas.Mode `json:"compatibilityLevel"`
}

type modeBody struct {
	Mode string `json:"mode"`
}

func (h *Handler) globalConfig(*http.Request, params) (any, *apiError) {
	return configBody{schemas.DefaultMode}, nil
}

func defaultToGlobal(r *http.Request) bool {
	b, _ := strconv.ParseBool(r.URL.Query().Get("defaultToGlobal"))
	return b
}

// subjectConfig is a subject's compatibility level: its record's mode,
// declared in the record's compatibility file or the default. Every record
// has one, so a known subject always answers; an unknown one answers as
// Confluent's registry does for a subject without a level of its own.
func (h *Handler) subjectConfig(r *http.Request, p params) (any, *apiError) {
	if s, ok := h.bySubject[p["subject"]]; ok {
		return configBody{s.mode}, nil
	}
	if defaultToGlobal(r) {
		return configBody{schemas.DefaultMode}, nil
	}
	return nil, errorf(http.StatusNotFound, CodeSubjectConfigNotSet, "Subject '%s' does not have subject-level compatibility configured", p["subject"])
}

func (h *Handler) subjectMode(r *http.Request, p params) (any, *apiError) {
	if _, ok := h.bySubject[p["subject"]]; ok || defaultToGlobal(r) {
		return modeBody{ModeReadOnly}, nil
	}
	return nil, errorf(http.StatusNotFound, CodeSubjectModeNotSet, "Subject '%s' does not have subject-level mode configured", p["subject"])
}

// compatibilityBody is Confluent's answer to a compatibility test.
type compatibilityBody struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages,omitempty"`
}

// compatibility is POST /compatibility/subjects/{subject}/versions[/{version}]:
// would the posted schema be accepted as the subject's next version under
// the record's mode? Against one version when the path names it, else
// against the versions the mode asks for (all of them when transitive, the
// latest otherwise). ?verbose=true lists the broken rules, as Confluent does.
func (h *Handler) compatibility(r *http.Request, p params) (any, *apiError) {
	s, err := h.subject(p["subject"])
	if err != nil {
		return nil, err
	}
	against := s.versions
	if p["version"] != "" {
		e, _, err := s.version(p["version"])
		if err != nil {
			return nil, err
		}
		against = []*idEntry{e}
	} else if !s.mode.Transitive() {
		against = s.versions[len(s.versions)-1:]
	}
	_, text, err := readSchemaText(r)
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, e := range against {
		if s.mode.Backward() {
			issues, cerr := codecs.Compatibility(text, e.schema.JSON)
			if cerr != nil {
				return nil, errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Invalid schema: %v", cerr)
			}
			for _, is := range issues {
				msgs = append(msgs, fmt.Sprintf("the new schema cannot read version %d: %s", e.schema.Version, is))
			}
		}
		if s.mode.Forward() {
			issues, cerr := codecs.Compatibility(e.schema.JSON, text)
			if cerr != nil {
				return nil, errorf(http.StatusUnprocessableEntity, CodeInvalidSchema, "Invalid schema: %v", cerr)
			}
			for _, is := range issues {
				msgs = append(msgs, fmt.Sprintf("version %d cannot read the new schema: %s", e.schema.Version, is))
			}
		}
	}
	out := compatibilityBody{IsCompatible: len(msgs) == 0}
	if v, _ := strconv.ParseBool(r.URL.Query().Get("verbose")); v {
		out.Messages = msgs
		if out.Messages == nil {
			out.Messages = []string{}
		}
	}
	return out, nil
}
