package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"
)

const readBufSize = 64 << 10

// splitter assembles one line from the chunks bufio.Reader.ReadSlice
// returns, keeping at most max+1 bytes (the extra byte tells a line of
// exactly max bytes followed by "\r" from a longer one). It also knows
// where each line starts in its input and how long it was before any cut.
type splitter struct {
	max    int
	buf    []byte
	trunc  bool  // bytes were discarded
	pos    int64 // bytes of the input consumed, line endings included
	start  int64 // input offset of the current line's first byte
	num    int64 // lines ended so far: the current line is number num+1
	total  int64 // bytes of the current line read, kept or not
	lastCR bool  // the last byte read was "\r"
}

func (s *splitter) add(chunk []byte) {
	if len(chunk) > 0 {
		s.total += int64(len(chunk))
		s.pos += int64(len(chunk))
		s.lastCR = chunk[len(chunk)-1] == '\r'
	}
	room := s.max + 1 - len(s.buf)
	if len(chunk) > room {
		chunk = chunk[:room]
		s.trunc = true
	}
	s.buf = append(s.buf, chunk...)
}

func (s *splitter) pending() bool { return len(s.buf) > 0 || s.trunc }

// reset starts the input again from its first byte (a truncated or a new
// file). Nothing may be pending.
func (s *splitter) reset() { s.pos, s.start, s.num = 0, 0, 0 }

// take ends the current line; newline tells that a "\n" ended it (one more
// byte of the input). ok is false for an empty line.
func (s *splitter) take(newline bool) (l line, ok bool) {
	b := s.buf
	trunc := s.trunc
	orig := s.total
	if s.lastCR {
		orig-- // the "\r" of a CRLF ending is no part of the line
	}
	if !trunc && len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) > s.max {
		trunc = true
		cut := s.max
		// Cut on a rune boundary (for UTF-8 text; give up after 3 bytes).
		for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
			cut--
		}
		b = b[:cut]
	}
	l = line{text: string(b), trunc: trunc, orig: orig, offset: s.start, number: s.num + 1}
	if cap(s.buf) > 4*readBufSize {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	if newline {
		s.pos++
	}
	s.num++
	s.start = s.pos
	s.trunc, s.total, s.lastCR = false, 0, false
	return l, len(l.text) > 0 || trunc
}

// read reads one input to its end (or follows it).
func (r *run) read(ctx context.Context, in input) error {
	if in.path == "" {
		r.files.Add(1)
		return r.readStream(ctx, in.source, r.cfg.Stdin)
	}
	if r.cfg.Follow {
		return r.follow(ctx, in)
	}
	f, err := os.Open(in.path)
	if err != nil {
		return fmt.Errorf("input file %s: %w", in.path, unwrapPath(err))
	}
	defer f.Close()
	r.files.Add(1)
	return r.readStream(ctx, in.source, f)
}

// emit ends the splitter's line and hands it over; newline tells that a
// "\n" ended it. false means stop.
func (r *run) emit(s *splitter, source string, newline bool) bool {
	l, ok := s.take(newline)
	if !ok {
		r.skipped.Add(1)
		r.cfg.Metrics.line(ResultSkipped)
		return true
	}
	l.source = source
	return r.send(l)
}

// readStream reads rd to its end.
func (r *run) readStream(ctx context.Context, source string, rd io.Reader) error {
	br := bufio.NewReaderSize(rd, readBufSize)
	s := splitter{max: r.cfg.MaxLineBytes}
	for ctx.Err() == nil {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			s.add(chunk[:len(chunk)-1])
			if !r.emit(&s, source, true) {
				return nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
			s.add(chunk)
		case errors.Is(err, io.EOF):
			s.add(chunk)
			if s.pending() {
				r.emit(&s, source, false)
			}
			return nil
		default:
			return fmt.Errorf("read %s: %w", source, err)
		}
	}
	return nil
}

// follow reads a file from its start and then tails it like `tail -F`
// until ctx is cancelled.
func (r *run) follow(ctx context.Context, in input) error {
	f, err := os.Open(in.path)
	if err != nil {
		return fmt.Errorf("input file %s: %w", in.path, unwrapPath(err))
	}
	defer func() { f.Close() }()
	r.files.Add(1)

	br := bufio.NewReaderSize(f, readBufSize)
	s := splitter{max: r.cfg.MaxLineBytes}
	rotated := false // the path names another file; read f to its end first
	for {
		if ctx.Err() != nil {
			// What was read of an unfinished last line is still a line.
			if s.pending() {
				r.emit(&s, in.source, false)
			}
			return nil
		}
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			s.add(chunk[:len(chunk)-1])
			if !r.emit(&s, in.source, true) {
				return nil
			}
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			s.add(chunk)
			continue
		case !errors.Is(err, io.EOF):
			return fmt.Errorf("read %s: %w", in.source, err)
		}
		s.add(chunk) // an unfinished line stays pending at the end of the file

		if rotated {
			rotated = false
			if nf, err := os.Open(in.path); err == nil {
				// The old file is read to its end: its last line is final.
				if s.pending() && !r.emit(&s, in.source, false) {
					nf.Close()
					return nil
				}
				f.Close()
				f = nf
				br.Reset(f)
				s.reset()
				continue
			}
			// Gone again between the check and the open: check again later.
		}

		select {
		case <-ctx.Done():
			continue
		case <-time.After(r.cfg.Poll):
		}

		fst, ferr := f.Stat()
		pst, perr := os.Stat(in.path)
		switch {
		case perr == nil && ferr == nil && !os.SameFile(pst, fst):
			rotated = true
		case ferr == nil && fst.Size() < s.pos:
			// Truncated in place: start again from the beginning.
			if s.pending() && !r.emit(&s, in.source, false) {
				return nil
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("read %s: rewind after truncation: %w", in.source, err)
			}
			br.Reset(f)
			s.reset()
		}
		// A missing path (rotation under way) keeps the old file open.
	}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
