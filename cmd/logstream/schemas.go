package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// schemasFS picks the schemas directory: --schemas-dir, else ./schemas in
// a checkout, else the one built into the binary. The name is for messages.
func schemasFS(cfg *Config) (fs.FS, string, error) {
	dir := cfg.SchemasDir
	if dir == "" {
		if st, err := os.Stat(filepath.Join("schemas", schemas.ManifestFile)); err == nil && !st.IsDir() {
			dir = "schemas"
		}
	}
	if dir == "" {
		return schemas.FS(), "the schemas built into this binary", nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, "", usagef("--schemas-dir: %v", err)
	}
	if !st.IsDir() {
		return nil, "", usagef("--schemas-dir: %s is not a directory", dir)
	}
	return os.DirFS(dir), dir, nil
}

// errCheckFailed ends `schemas check` with exit status 1 after it printed
// what is wrong.
var errCheckFailed = errors.New("the schemas directory has problems (listed above)")

// schemasCheck loads the directory, checks the manifest and every
// compatibility rule, and prints each problem on its own line.
func schemasCheck(cfg *Config, stdout io.Writer) error {
	fsys, where, err := schemasFS(cfg)
	if err != nil {
		return err
	}
	prefix := ""
	if where != "the schemas built into this binary" {
		prefix = strings.TrimSuffix(where, "/") + "/"
	}
	// Load checks the files and the manifest; the compatibility check runs
	// on whatever Scan could read, so one run reports every problem.
	failed := false
	if _, err := schemas.Load(fsys); err != nil {
		var le *schemas.LoadError
		if !errors.As(err, &le) {
			return err
		}
		for _, p := range le.Problems {
			fmt.Fprintf(stdout, "FAIL %s%s\n", prefix, p)
		}
		failed = true
	}
	cat, _ := schemas.Scan(fsys)
	fails, probs := codecs.CheckCatalog(cat)
	for _, p := range probs {
		fmt.Fprintf(stdout, "FAIL %s%s\n", prefix, p)
	}
	for _, f := range fails {
		fmt.Fprintf(stdout, "FAIL %s\n", f)
	}
	versions, pairs := 0, 0
	for _, r := range cat.Records {
		versions += len(r.Versions)
		pairs += len(r.Versions) * (len(r.Versions) - 1) / 2
		if len(r.Versions) > 1 || r.ModeFile != "" {
			fmt.Fprintf(stdout, "%-4s %s: %d versions, %s%s\n", okWord(fails, r.Name), r.Name, len(r.Versions), r.Mode, modeSource(r))
		}
	}
	if failed || len(fails) > 0 || len(probs) > 0 {
		return errCheckFailed
	}
	fmt.Fprintf(stdout, "ok   %d records, %d versions, %d version pairs checked, manifest up to date (%s)\n", len(cat.Records), versions, pairs, where)
	return nil
}

func okWord(fails []codecs.CompatFailure, record string) string {
	for _, f := range fails {
		if f.Record.Name == record {
			return "FAIL"
		}
	}
	return "ok"
}

func modeSource(r schemas.Record) string {
	if r.ModeFile == "" {
		return " (default)"
	}
	return " (from " + r.ModeFile + ")"
}

func schemasList(cfg *Config, stdout io.Writer) error {
	fsys, _, err := schemasFS(cfg)
	if err != nil {
		return err
	}
	cat, err := schemas.Load(fsys)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tVERSION\tID\tFINGERPRINT\tCOMPATIBILITY\tFILE")
	for _, r := range cat.Records {
		for _, s := range r.Versions {
			fmt.Fprintf(tw, "%s\tv%d\t%d\t%016x\t%s\t%s\n", r.FullName, s.Version, s.ID, s.Fingerprint, r.Mode, s.File)
		}
	}
	return tw.Flush()
}

// schemasFingerprint prints the CRC-64-AVRO fingerprint of each file, and
// the version it is when the schemas directory has it.
func schemasFingerprint(cfg *Config, files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return usagef("schemas fingerprint: name one or more .avsc files")
	}
	var cat *schemas.Catalog
	if fsys, _, err := schemasFS(cfg); err == nil {
		cat, _ = schemas.Load(fsys)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := goavro.NewCodec(string(raw)); err != nil {
			return fmt.Errorf("%s: not a valid Avro schema: %v", f, err)
		}
		fp, err := schemas.Fingerprint(string(raw))
		if err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
		known := ""
		if cat != nil {
			if s, ok := cat.ByFingerprint(fp); ok {
				known = fmt.Sprintf("  %s (id %d, %s)", s.Label(), s.ID, s.File)
			}
		}
		fmt.Fprintf(stdout, "%016x  %s%s\n", fp, f, known)
	}
	return nil
}

// schemasManifest prints manifest.json as it should be, or writes it.
func schemasManifest(cfg *Config, stdout io.Writer) error {
	fsys, where, err := schemasFS(cfg)
	if err != nil {
		return err
	}
	b, err := schemas.Manifest(fsys)
	if err != nil {
		return err
	}
	if !cfg.Write {
		_, err = stdout.Write(b)
		return err
	}
	if where == "the schemas built into this binary" {
		return usagef("schemas manifest --write: no schemas directory here; run it in a checkout or pass --schemas-dir")
	}
	path := filepath.Join(where, schemas.ManifestFile)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}
