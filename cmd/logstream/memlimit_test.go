package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"auto": memoryAuto, "AUTO": memoryAuto, "none": 0, "0": 0,
		"900MiB": 900 << 20, "2GiB": 2 << 30, "1.5GiB": 3 << 29, "1GB": 1e9, "100000000": 1e8, " 512 MiB ": 512 << 20,
	} {
		got, err := parseMemoryLimit(in)
		if err != nil || got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1GiB", "1MiB", "lots", "5PiB", "9e99"} {
		if got, err := parseMemoryLimit(in); err == nil {
			t.Errorf("parseMemoryLimit(%q) = %d, want an error", in, got)
		}
	}
}

func TestContainerMemory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		files []string
		want  int64
	}{
		{[]string{write("v2", "2147483648\n")}, 2 << 30},
		{[]string{write("v2max", "max\n")}, 0},
		{[]string{missing, write("v1", "1073741824\n")}, 1 << 30},
		{[]string{missing, write("v1unlimited", "9223372036854771712\n")}, 0},
		{[]string{missing}, 0},
	} {
		if got := containerMemory(c.files); got != c.want {
			t.Errorf("containerMemory(%v) = %d, want %d", c.files, got, c.want)
		}
	}
}

func TestGCPercentSetting(t *testing.T) {
	for in, want := range map[string]int{"auto": gcAuto, " AUTO ": gcAuto, "50": 50, "10": 10, "1000": 1000} {
		var c Config
		c.GCPercent = 7
		if err := sGCPercent.parse(&c, in); err != nil || c.GCPercent != want {
			t.Errorf("gc-percent %q: %d, %v; want %d", in, c.GCPercent, err, want)
		}
	}
	for _, in := range []string{"", "off", "-1", "0", "9", "1001", "5O"} {
		var c Config
		if err := sGCPercent.parse(&c, in); err == nil {
			t.Errorf("gc-percent %q: %d, want an error", in, c.GCPercent)
		}
	}
}
