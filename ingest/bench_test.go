package ingest

import (
	"strings"
	"testing"
)

// The UTF-8 check every line now passes: a typical 200-byte line.
func BenchmarkFirstInvalidUTF8(b *testing.B) {
	line := `2026-11-21T09:41:07.123Z web-3 payments[812]: {"level":"error","msg":"charge failed: upstream timeout after 3012 ms","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","user":"jürgen"}`
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if firstInvalidUTF8(line) >= 0 {
			b.Fatal("valid line reported invalid")
		}
	}
}

// Cutting a 5 MB line to a 1 MiB record on a rune boundary.
func BenchmarkCutUTF8(b *testing.B) {
	long := strings.Repeat("é€x", 5_000_000/6)
	b.ReportAllocs()
	for b.Loop() {
		if s := cutUTF8(long, DefaultMaxRecordBytes-1000); len(s) == 0 {
			b.Fatal("empty cut")
		}
	}
}
