package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Without --s3-dir every demo run gets a directory of its own under
// $TMPDIR that only its user can enter; with it, that directory is used,
// emptied.
func TestDemoS3Dir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	a, err := demoS3Dir("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := demoS3Dir("")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two runs share the S3 directory %s", a)
	}
	for _, dir := range []string{a, b} {
		if filepath.Dir(dir) != tmp {
			t.Errorf("S3 directory %s is not under $TMPDIR %s", dir, tmp)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("S3 directory %s: mode %v; want a directory with mode 0700", dir, fi.Mode())
		}
	}

	set := filepath.Join(tmp, "chosen")
	if err := os.MkdirAll(filepath.Join(set, "logstream-demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(set, "logstream-demo", "earlier-run.json.gz")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := demoS3Dir(set)
	if err != nil {
		t.Fatal(err)
	}
	if got != set {
		t.Errorf("--s3-dir %s: the store uses %s", set, got)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an earlier run's object is still in --s3-dir: %v", err)
	}
}
