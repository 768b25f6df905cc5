package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// ManifestFile is the manifest's name in the schemas directory.
const ManifestFile = "manifest.json"

// CompatibilityFile, in a record's directory, declares a mode weaker than
// FULL_TRANSITIVE for that record.
const CompatibilityFile = "compatibility"

// Mode is a compatibility mode, with Confluent Schema Registry's names and
// meanings. "Backward" means the new version reads data written by the old;
// "forward", the old reads the new; "transitive", against every earlier
// version rather than only the previous one.
type Mode string

// The compatibility modes.
const (
	ModeNone               Mode = "NONE"
	ModeBackward           Mode = "BACKWARD"
	ModeBackwardTransitive Mode = "BACKWARD_TRANSITIVE"
	ModeForward            Mode = "FORWARD"
	ModeForwardTransitive  Mode = "FORWARD_TRANSITIVE"
	ModeFull               Mode = "FULL"
	ModeFullTransitive     Mode = "FULL_TRANSITIVE"
)

// DefaultMode applies to a record whose directory has no compatibility file:
// during a rolling deploy old pods read new records and new pods read old
// ones, and topics keep records of every version.
const DefaultMode = ModeFullTransitive

// Modes lists every mode, strongest first.
var Modes = []Mode{ModeFullTransitive, ModeFull, ModeBackwardTransitive, ModeBackward, ModeForwardTransitive, ModeForward, ModeNone}

// Backward reports whether the mode requires new versions to read old data.
func (m Mode) Backward() bool { return m == ModeBackward || m == ModeBackwardTransitive || m.full() }

// Forward reports whether the mode requires old versions to read new data.
func (m Mode) Forward() bool { return m == ModeForward || m == ModeForwardTransitive || m.full() }

// Transitive reports whether the mode checks against every earlier version
// (otherwise only against the one before).
func (m Mode) Transitive() bool { return strings.HasSuffix(string(m), "_TRANSITIVE") }

func (m Mode) full() bool { return m == ModeFull || m == ModeFullTransitive }

// ParseMode parses a mode name.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToUpper(strings.TrimSpace(s)))
	if slices.Contains(Modes, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown compatibility mode %q (want one of %v)", s, Modes)
}

// Record is every version of one record.
type Record struct {
	Name     string // e.g. "LogEvent"
	FullName string // e.g. "logstream.LogEvent"
	Dir      string // e.g. "logevent"
	Mode     Mode
	// ModeFile is the file that declared Mode, "" for the default.
	ModeFile string
	Versions []Schema // by version, from 1
}

// Latest returns the record's newest version.
func (r Record) Latest() Schema { return r.Versions[len(r.Versions)-1] }

// Version returns version v.
func (r Record) Version(v int) (Schema, bool) {
	if v < 1 || v > len(r.Versions) {
		return Schema{}, false
	}
	return r.Versions[v-1], true
}

// Catalog is a loaded schemas directory.
type Catalog struct {
	Records []Record // by directory name
	byFP    map[uint64]Schema
	byID    map[int]Schema
}

// Record returns the record with the given short or full name.
func (c *Catalog) Record(name string) (Record, bool) {
	for _, r := range c.Records {
		if r.Name == name || r.FullName == name {
			return r, true
		}
	}
	return Record{}, false
}

// ByFingerprint returns the version with fingerprint fp, or with legacy
// fingerprint fp.
func (c *Catalog) ByFingerprint(fp uint64) (Schema, bool) {
	s, ok := c.byFP[fp]
	return s, ok
}

// ByID returns the version with manifest id id.
func (c *Catalog) ByID(id int) (Schema, bool) {
	s, ok := c.byID[id]
	return s, ok
}

// Schemas returns every version of every record, by id.
func (c *Catalog) Schemas() []Schema {
	out := make([]Schema, 0, len(c.byID))
	for _, s := range c.byID {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Problem is one thing wrong with a schemas directory.
type Problem struct {
	File string // path under the schemas directory
	Msg  string
}

func (p Problem) String() string { return p.File + ": " + p.Msg }

// LoadError lists everything wrong with a schemas directory.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("schemas: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Load reads a schemas directory (the embedded one is FS()) and checks that
// every schema is valid Avro, that each record's versions are numbered from
// 1 without gaps and keep the record's name, that no two files share a
// fingerprint, and that the manifest lists exactly these files with their
// fingerprints and unique ids. It does not check compatibility between
// versions: that is codecs.CheckCompatibility. The error is a *LoadError.
func Load(fsys fs.FS) (*Catalog, error) {
	c, probs := scan(fsys)
	ids, mprobs := readManifest(fsys, c)
	probs = append(probs, mprobs...)
	if len(probs) > 0 {
		return nil, &LoadError{Problems: probs}
	}
	c.byID = map[int]Schema{}
	for ri := range c.Records {
		for vi := range c.Records[ri].Versions {
			s := &c.Records[ri].Versions[vi]
			s.ID = ids[s.File]
			c.byID[s.ID] = *s
			c.byFP[s.Fingerprint] = *s
			c.byFP[s.LegacyFingerprint] = *s
		}
	}
	return c, nil
}

// Scan reads a schemas directory as Load does but without the manifest:
// the versions have no ids. It returns what it could read, and the
// problems with the rest, so a check can report everything at once.
func Scan(fsys fs.FS) (*Catalog, []Problem) { return scan(fsys) }

var versionFile = regexp.MustCompile(`^v([1-9][0-9]*)\.avsc$`)

// scan reads every record directory, without the manifest.
func scan(fsys fs.FS) (*Catalog, []Problem) {
	c := &Catalog{byFP: map[uint64]Schema{}}
	var probs []Problem
	bad := func(file, format string, args ...any) {
		probs = append(probs, Problem{File: file, Msg: fmt.Sprintf(format, args...)})
	}
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		bad(".", "cannot read the directory: %v", err)
		return c, probs
	}
	seenFP := map[uint64]string{}
	for _, d := range top {
		if !d.IsDir() {
			if strings.HasSuffix(d.Name(), ".avsc") {
				bad(d.Name(), "a schema must be in its record's directory, as <record>/v<N>.avsc")
			}
			continue
		}
		rec := Record{Dir: d.Name(), Mode: DefaultMode}
		entries, err := fs.ReadDir(fsys, d.Name())
		if err != nil {
			bad(d.Name(), "cannot read the directory: %v", err)
			continue
		}
		byVersion := map[int]Schema{}
		for _, e := range entries {
			file := path.Join(d.Name(), e.Name())
			if e.Name() == CompatibilityFile {
				m, err := readMode(fsys, file)
				if err != nil {
					bad(file, "%v", err)
					continue
				}
				rec.Mode, rec.ModeFile = m, file
				continue
			}
			if !strings.HasSuffix(e.Name(), ".avsc") {
				continue
			}
			m := versionFile.FindStringSubmatch(e.Name())
			if m == nil {
				bad(file, "a schema file must be named v<N>.avsc, N = 1, 2, ...")
				continue
			}
			v, _ := strconv.Atoi(m[1])
			raw, err := fs.ReadFile(fsys, file)
			if err != nil {
				bad(file, "cannot read: %v", err)
				continue
			}
			s, full, err := parseVersion(raw)
			if err != nil {
				bad(file, "%v", err)
				continue
			}
			s.Dir, s.Version, s.File = d.Name(), v, file
			if prev, dup := seenFP[s.Fingerprint]; dup {
				bad(file, "has the same fingerprint %016x as %s (the same schema in canonical form): a new version must change the schema", s.Fingerprint, prev)
				continue
			}
			// A legacy fingerprint names its file alone too, so a record
			// carrying one is never ambiguous.
			if prev, dup := seenFP[s.LegacyFingerprint]; dup && s.LegacyFingerprint != s.Fingerprint {
				bad(file, "has the legacy fingerprint %016x, which is %s's fingerprint too: a new version must change the schema", s.LegacyFingerprint, prev)
				continue
			}
			seenFP[s.Fingerprint] = file
			seenFP[s.LegacyFingerprint] = file
			if rec.FullName == "" {
				rec.FullName, rec.Name = full, s.Name
			} else if full != rec.FullName {
				bad(file, "names record %s, but other versions in %s/ name %s: a record keeps its name across versions", full, d.Name(), rec.FullName)
				continue
			}
			byVersion[v] = s
		}
		if len(byVersion) == 0 {
			if rec.ModeFile != "" {
				bad(d.Name(), "has no v<N>.avsc schema")
			}
			continue
		}
		for v := 1; v <= len(byVersion); v++ {
			s, ok := byVersion[v]
			if !ok {
				bad(path.Join(d.Name(), fmt.Sprintf("v%d.avsc", v)), "is missing: versions must be numbered 1, 2, ... without gaps")
				break
			}
			rec.Versions = append(rec.Versions, s)
		}
		if len(rec.Versions) != len(byVersion) {
			continue
		}
		c.Records = append(c.Records, rec)
	}
	for _, r := range c.Records {
		for _, s := range r.Versions {
			c.byFP[s.Fingerprint] = s
			c.byFP[s.LegacyFingerprint] = s
		}
	}
	return c, probs
}

// parseVersion checks one .avsc file and returns it with its short name,
// full name and fingerprint.
func parseVersion(raw []byte) (Schema, string, error) {
	var head struct {
		Type      any    `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&head); err != nil {
		return Schema{}, "", fmt.Errorf("not valid JSON: %v", err)
	}
	if head.Type != "record" || head.Name == "" {
		return Schema{}, "", errors.New(`not a named record schema ({"type": "record", "name": ...})`)
	}
	if _, err := goavro.NewCodec(string(raw)); err != nil {
		return Schema{}, "", fmt.Errorf("not a valid Avro schema: %v", err)
	}
	fp, err := Fingerprint(string(raw))
	if err != nil {
		return Schema{}, "", err
	}
	legacy, err := LegacyFingerprint(string(raw))
	if err != nil {
		return Schema{}, "", err
	}
	short, full := head.Name, head.Name
	if i := strings.LastIndexByte(head.Name, '.'); i >= 0 {
		short = head.Name[i+1:]
	} else if head.Namespace != "" {
		full = head.Namespace + "." + head.Name
	}
	return Schema{Name: short, JSON: string(raw), Fingerprint: fp, LegacyFingerprint: legacy}, full, nil
}

func readMode(fsys fs.FS, file string) (Mode, error) {
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return "", fmt.Errorf("cannot read: %v", err)
	}
	var words []string
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		words = append(words, strings.Fields(line)...)
	}
	if len(words) != 1 {
		return "", fmt.Errorf("must hold one compatibility mode (one of %v), found %q", Modes, strings.Join(words, " "))
	}
	return ParseMode(words[0])
}
