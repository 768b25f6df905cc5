package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// laterLogEvents are the LogEvent versions released after v2: copySchemas
// leaves them out.
var laterLogEvents = []string{"logevent/v3.avsc", "logevent/v4.avsc"}

// copySchemas copies the repository's schemas as they were before LogEvent
// v3 (the files and manifest entries of v3 and later left out), so that
// the tests below can replay "add a v3" in every way, right and wrong.
func copySchemas(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(schemas.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(laterLogEvents, p) {
			return err
		}
		b, err := fs.ReadFile(schemas.FS(), p)
		for _, f := range laterLogEvents {
			if p == "manifest.json" && err == nil {
				b, err = withoutManifestEntry(b, f)
			}
		}
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// withoutManifestEntry drops one file's entry from manifest.json.
func withoutManifestEntry(b []byte, file string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	var keep []any
	for _, e := range m["schemas"].([]any) {
		if e.(map[string]any)["file"] != file {
			keep = append(keep, e)
		}
	}
	m["schemas"] = keep
	return json.MarshalIndent(m, "", "  ")
}

// maxIDWithout returns the highest id among the embedded schema versions
// other than file.
func maxIDWithout(t *testing.T, files ...string) int {
	t.Helper()
	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range cat.Schemas() {
		if !slices.Contains(files, s.File) && s.ID > n {
			n = s.ID
		}
	}
	return n
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := runMain(args, &out, &out, func(string) (string, bool) { return "", false })
	return code, out.String()
}

// v3 writes schemas/logevent/v3.avsc: v2 changed by edit.
func v3(t *testing.T, dir string, edit func(s map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "logevent", "v2.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	edit(s)
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "logevent", "v3.avsc"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func withoutField(name string) func(map[string]any) {
	return func(s map[string]any) {
		var keep []any
		for _, f := range s["fields"].([]any) {
			if f.(map[string]any)["name"] != name {
				keep = append(keep, f)
			}
		}
		s["fields"] = keep
	}
}

func withField(f map[string]any) func(map[string]any) {
	return func(s map[string]any) { s["fields"] = append(s["fields"].([]any), f) }
}

func TestSchemasCheck(t *testing.T) {
	t.Run("the repository's schemas pass", func(t *testing.T) {
		code, out := run(t, "schemas", "check", "--schemas-dir", copySchemas(t))
		if code != 0 || !strings.Contains(out, "manifest up to date") || !strings.Contains(out, "LogEvent: 2 versions, FULL_TRANSITIVE") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a compatible v3 passes once the manifest lists it", func(t *testing.T) {
		dir := copySchemas(t)
		v3(t, dir, withField(map[string]any{"name": "region", "type": "string", "default": ""}))
		code, out := run(t, "schemas", "check", "--schemas-dir", dir)
		if code != 1 || !strings.Contains(out, "manifest.json: is out of date: logevent/v3.avsc is not listed") {
			t.Fatalf("stale manifest: exit %d:\n%s", code, out)
		}
		if code, out := run(t, "schemas", "manifest", "--write", "--schemas-dir", dir); code != 0 {
			t.Fatalf("manifest --write: exit %d: %s", code, out)
		}
		code, out = run(t, "schemas", "check", "--schemas-dir", dir)
		if code != 0 || !strings.Contains(out, "LogEvent: 3 versions") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		// The existing ids stayed; v3 got the next one, after every other
		// record's.
		_, list := run(t, "schemas", "list", "--schemas-dir", dir)
		next := strconv.Itoa(maxIDWithout(t, laterLogEvents...) + 1)
		if !hasRow(list, "logstream.LogEvent", "v2", "3") || !hasRow(list, "logstream.LogEvent", "v3", next) {
			t.Fatalf("ids changed (want v3 to get id %s):\n%s", next, list)
		}
	})
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"removing a field without default breaks forward compatibility",
			func(t *testing.T, dir string) { v3(t, dir, withoutField("host")) },
			[]string{`logevent/v1.avsc cannot read logevent/v3.avsc`, `logevent/v2.avsc cannot read logevent/v3.avsc`, `field "host"`, "READER_FIELD_MISSING_DEFAULT_VALUE", "FULL_TRANSITIVE"}},
		{"adding a field without default breaks backward compatibility",
			func(t *testing.T, dir string) {
				v3(t, dir, withField(map[string]any{"name": "zone", "type": "string"}))
			},
			[]string{`logevent/v3.avsc cannot read logevent/v1.avsc`, `field "zone"`, "READER_FIELD_MISSING_DEFAULT_VALUE", "BACKWARD"}},
		{"changing a field's type",
			func(t *testing.T, dir string) {
				v3(t, dir, func(s map[string]any) {
					for _, f := range s["fields"].([]any) {
						if f.(map[string]any)["name"] == "message" {
							f.(map[string]any)["type"] = "int"
						}
					}
				})
			},
			[]string{`field "message"`, "TYPE_MISMATCH"}},
		{"a schema file that is not valid Avro",
			func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "logevent", "v3.avsc"), []byte(`{"type":"record","name":"LogEvent","namespace":"logstream","fields":[{"name":"x","type":"nope"}]}`), 0o644)
			},
			[]string{"logevent/v3.avsc: not a valid Avro schema"}},
		{"a schema file that is not JSON",
			func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "span", "v2.avsc"), []byte(`{"type":`), 0o644)
			},
			[]string{"span/v2.avsc: not valid JSON"}},
		{"a duplicate fingerprint",
			func(t *testing.T, dir string) {
				v3(t, dir, func(s map[string]any) { s["doc"] = "only the doc changed" })
			},
			[]string{"logevent/v3.avsc: has the same fingerprint", "as logevent/v2.avsc"}},
		{"a default of the wrong type (goavro rejects it)",
			func(t *testing.T, dir string) {
				v3(t, dir, withField(map[string]any{"name": "zone", "type": "int", "default": "x"}))
			},
			[]string{"logevent/v3.avsc: not a valid Avro schema", `field "zone"`}},
		{"a default of the wrong type (goavro lets it through)",
			func(t *testing.T, dir string) {
				v3(t, dir, withField(map[string]any{"name": "zone", "type": "int", "default": 1.5}))
			},
			[]string{"logevent/v3.avsc: record logstream.LogEvent field zone: default 1.5: want an integer for int"}},
		{"a gap in the versions",
			func(t *testing.T, dir string) {
				os.Rename(filepath.Join(dir, "logevent", "v2.avsc"), filepath.Join(dir, "logevent", "v3.avsc"))
			},
			[]string{"logevent/v2.avsc: is missing"}},
		{"a released version edited",
			func(t *testing.T, dir string) {
				p := filepath.Join(dir, "span", "v1.avsc")
				b, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(b, []byte(`"name": "host"`), []byte(`"name": "hostname"`), 1), 0o644)
			},
			[]string{"manifest.json: is out of date: span/v1.avsc has fingerprint", "a released version must not change"}},
		{"a version renamed to another record",
			func(t *testing.T, dir string) { v3(t, dir, func(s map[string]any) { s["name"] = "Event" }) },
			[]string{"logevent/v3.avsc: names record logstream.Event"}},
		{"an unknown compatibility mode",
			func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "logevent", "compatibility"), []byte("SIDEWAYS\n"), 0o644)
			},
			[]string{"logevent/compatibility: unknown compatibility mode"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copySchemas(t)
			c.setup(t, dir)
			// Regenerate the manifest where the files allow it, so the
			// failure under test is the only one.
			if strings.Contains(c.name, "field") || strings.Contains(c.name, "type") && !strings.Contains(c.name, "default") {
				if code, out := run(t, "schemas", "manifest", "--write", "--schemas-dir", dir); code != 0 {
					t.Fatalf("manifest --write: %s", out)
				}
			}
			code, out := run(t, "schemas", "check", "--schemas-dir", dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("a weaker mode declared in the record's directory", func(t *testing.T) {
		dir := copySchemas(t)
		v3(t, dir, withoutField("service")) // service has a default: backward fine, forward fine too
		v3(t, dir, withoutField("host"))    // host has none: only forward breaks
		os.WriteFile(filepath.Join(dir, "logevent", "compatibility"), []byte("# consumers upgrade first\nBACKWARD_TRANSITIVE\n"), 0o644)
		run(t, "schemas", "manifest", "--write", "--schemas-dir", dir)
		code, out := run(t, "schemas", "check", "--schemas-dir", dir)
		if code != 0 || !strings.Contains(out, "BACKWARD_TRANSITIVE (from logevent/compatibility)") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

func TestSchemasListAndFingerprint(t *testing.T) {
	code, out := run(t, "schemas", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cat.Schemas() {
		if !strings.Contains(out, s.File) || !strings.Contains(out, fmtFP(s.Fingerprint)) {
			t.Errorf("list lacks %s %s:\n%s", s.File, fmtFP(s.Fingerprint), out)
		}
	}
	dir := copySchemas(t)
	code, out = run(t, "schemas", "fingerprint", "--schemas-dir", dir, filepath.Join(dir, "logevent", "v2.avsc"))
	v2, _ := cat.ByID(3)
	if code != 0 || !strings.HasPrefix(out, fmtFP(v2.Fingerprint)) || !strings.Contains(out, "LogEvent v2 (id 3") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, out := run(t, "schemas", "fingerprint"); code != 2 || !strings.Contains(out, "name one or more") {
		t.Fatalf("no file: exit %d: %s", code, out)
	}
}

func fmtFP(fp uint64) string { return fmt.Sprintf("%016x", fp) }

// hasRow reports whether a table printed by `schemas list` has a row
// starting with these columns.
func hasRow(list string, cols ...string) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cols) && strings.Join(f[:len(cols)], " ") == strings.Join(cols, " ") {
			return true
		}
	}
	return false
}
