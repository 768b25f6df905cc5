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
// exactly max bytes followed by "\r" from a longer one).
type splitter struct {
	max   int
	buf   []byte
	trunc bool // bytes were discarded
}

func (s *splitter) add(chunk []byte) {
	room := s.max + 1 - len(s.buf)
	if len(chunk) > room {
		chunk = chunk[:room]
		s.trunc = true
	}
	s.buf = append(s.buf, chunk...)
}

func (s *splitter) pending() bool { return len(s.buf) > 0 || s.trunc }

// take ends the current line. ok is false for an empty line.
func (s *splitter) take() (text string, trunc, ok bool) {
	b := s.buf
	trunc = s.trunc
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
	text = string(b)
	if cap(s.buf) > 4*readBufSize {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	s.trunc = false
	return text, trunc, len(text) > 0 || trunc
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

// emit ends the splitter's line and hands it over; false means stop.
func (r *run) emit(s *splitter, source string) bool {
	text, trunc, ok := s.take()
	if !ok {
		r.skipped.Add(1)
		return true
	}
	return r.send(line{source: source, text: text, trunc: trunc})
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
			if !r.emit(&s, source) {
				return nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
			s.add(chunk)
		case errors.Is(err, io.EOF):
			s.add(chunk)
			if s.pending() {
				r.emit(&s, source)
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
	var offset int64 // bytes of f consumed
	rotated := false // the path names another file; read f to its end first
	for {
		if ctx.Err() != nil {
			// What was read of an unfinished last line is still a line.
			if s.pending() {
				r.emit(&s, in.source)
			}
			return nil
		}
		chunk, err := br.ReadSlice('\n')
		offset += int64(len(chunk))
		switch {
		case err == nil:
			s.add(chunk[:len(chunk)-1])
			if !r.emit(&s, in.source) {
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
				if s.pending() && !r.emit(&s, in.source) {
					nf.Close()
					return nil
				}
				f.Close()
				f = nf
				br.Reset(f)
				offset = 0
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
		case ferr == nil && fst.Size() < offset:
			// Truncated in place: start again from the beginning.
			if s.pending() && !r.emit(&s, in.source) {
				return nil
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("read %s: rewind after truncation: %w", in.source, err)
			}
			br.Reset(f)
			offset = 0
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
