package registry

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/logstream/logstream/schemas"
)

// catalogFS copies the embedded schemas directory, for tests that change it.
func catalogFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(schemas.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schemas.FS(), path)
		if err != nil {
			return err
		}
		m[path] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dropVersion removes a schema file and its manifest entry, as the schemas
// directory was before that version was added.
func dropVersion(t testing.TB, m fstest.MapFS, file string) {
	t.Helper()
	if _, ok := m[file]; !ok {
		t.Fatalf("no %s in the schemas directory", file)
	}
	delete(m, file)
	var man map[string]any
	if err := json.Unmarshal(m[schemas.ManifestFile].Data, &man); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, e := range man["schemas"].([]any) {
		if e.(map[string]any)["file"] != file {
			kept = append(kept, e)
		}
	}
	man["schemas"] = kept
	b, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	m[schemas.ManifestFile] = &fstest.MapFile{Data: b}
}

func loadCatalog(t testing.TB, m fstest.MapFS) *schemas.Catalog {
	t.Helper()
	cat, err := schemas.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func embedded(t testing.TB) *schemas.Catalog {
	t.Helper()
	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// newHandler serves cat with the subjects of the default topology (less
// spans, see mustTopics).
func newHandler(t testing.TB, cat *schemas.Catalog) *Handler {
	t.Helper()
	h, err := NewHandler(cat, Subjects(mustTopics(t), cat))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func record(t testing.TB, cat *schemas.Catalog, name string) schemas.Record {
	t.Helper()
	r, ok := cat.Record(name)
	if !ok {
		t.Fatalf("no record %s in the catalog", name)
	}
	return r
}

// compact is a schema as the registry serves it.
func compact(t testing.TB, s schemas.Schema) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s.JSON)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// requestLog counts the requests a test server received, by path.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.paths = append(l.paths, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// count is how many requests were for a path starting with prefix
// ("GET /subjects"), and all of them with "".
func (l *requestLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

func serveTest(t testing.TB, h http.Handler) (*httptest.Server, *requestLog) {
	t.Helper()
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(h))
	t.Cleanup(srv.Close)
	return srv, log
}

// subjectNames lists, sorted, the subjects the pipeline's topics make.
func subjectNames(t *testing.T, cat *schemas.Catalog) []string {
	t.Helper()
	var out []string
	for s := range Subjects(mustTopics(t), cat) {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
