package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxLineBytes = 1 << 20
	DefaultPoll         = 250 * time.Millisecond
	DefaultFlushTimeout = 10 * time.Second
)

// StdinSource is RawLog.Source for lines read from stdin; StdinArg is the
// input that names stdin.
const (
	StdinSource = "stdin"
	StdinArg    = "-"
)

// LabelTruncated is the label set to "true" on a line cut at MaxLineBytes.
const LabelTruncated = "truncated"

// drainGrace bounds how long Run, once cancelled, waits for readers to hand
// over what they already read (a read blocked on stdin never returns).
const drainGrace = 500 * time.Millisecond

// Config configures Run.
type Config struct {
	// Topic is the raw topic; the caller names it (from topology/).
	Topic string
	// Host, when set, is the host of every line (--host). When empty the
	// host is HostOf(line), and when that is empty too, os.Hostname().
	Host string
	// Follow tails the files (--follow), see the package doc.
	Follow bool
	// Encode turns a RawLog into the record value (the Avro codec). It is
	// called from one goroutine and must not keep the RawLog.
	Encode func(*schemas.RawLog) ([]byte, error)
	// HostOf returns the host a line names, "" if none. May be nil.
	HostOf func(line string) string
	// Labels are attached to every RawLog. Run does not modify the map.
	Labels map[string]string
	// MaxLineBytes bounds one line; longer lines are truncated and labelled
	// truncated=true. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Progress, when set, receives a progress line ("\r  12,345 records
	// 45,678 rec/s") about 4 times a second, and a final one and a newline
	// when Run returns.
	Progress io.Writer
	// Now is the clock for RawLog.ReceivedAt, record timestamps and rates;
	// nil means time.Now.
	Now func() time.Time
	// Stdin is what "-" (or no input) reads; nil means os.Stdin.
	Stdin io.Reader
	// Poll is how often a followed file is checked at its end; 0 means
	// DefaultPoll.
	Poll time.Duration
	// FlushTimeout bounds the final flush once ctx is cancelled; 0 means
	// DefaultFlushTimeout. Records still unacknowledged then are failed.
	FlushTimeout time.Duration
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("ingest: Config.Topic is empty")
	case c.Encode == nil:
		return errors.New("ingest: Config.Encode is nil")
	case c.MaxLineBytes < 0:
		return errors.New("ingest: Config.MaxLineBytes is negative")
	case c.Poll < 0:
		return errors.New("ingest: Config.Poll is negative")
	case c.FlushTimeout < 0:
		return errors.New("ingest: Config.FlushTimeout is negative")
	}
	return nil
}

// Summary is what one Run did.
type Summary struct {
	Records   int64         // lines produced and acknowledged by the broker
	Bytes     int64         // bytes of those lines, without line endings
	Failed    int64         // lines that could not be encoded or produced
	Skipped   int64         // empty lines, not produced
	Truncated int64         // lines cut at MaxLineBytes (also in Records or Failed)
	Files     int           // inputs opened; stdin counts as one
	Elapsed   time.Duration // from the start of Run to the end of the flush
}

// String is a one-line report, e.g. "ingested 10,000 records (1.2 MB) from
// 2 files in 0.41s (24,390 rec/s), 0 failed".
func (s Summary) String() string {
	rate := 0.0
	if sec := s.Elapsed.Seconds(); sec > 0 {
		rate = float64(s.Records) / sec
	}
	out := fmt.Sprintf("ingested %s (%s) from %s in %.2fs (%s rec/s), %s failed",
		plural(s.Records, "record"), formatBytes(s.Bytes), plural(int64(s.Files), "file"),
		s.Elapsed.Seconds(), commas(int64(rate+0.5)), commas(s.Failed))
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %s skipped", plural(s.Skipped, "empty line"))
	}
	if s.Truncated > 0 {
		out += fmt.Sprintf(", %s truncated", commas(s.Truncated))
	}
	return out
}

// input is one command-line input.
type input struct {
	source string // RawLog.Source
	path   string // "" for stdin
}

// line is one line handed from a reader to the producer.
type line struct {
	source string
	text   string
	trunc  bool
}

// run is the state of one Run.
type run struct {
	cfg       Config
	cl        *kgo.Client
	host      string            // fallback host
	labels    map[string]string // cfg.Labels, copied
	truncLbls map[string]string // labels plus truncated=true

	lines chan line
	quit  chan struct{} // closed when the producer stops taking lines

	records, bytes, failed, skipped, truncated atomic.Int64
	files                                      atomic.Int64

	errMu    sync.Mutex
	firstErr error
}

// Run reads inputs ("-" or none = stdin) and produces their lines to
// cfg.Topic with cl until the inputs end or, with cfg.Follow, until ctx is
// cancelled. It returns the summary and, when lines failed or reading
// failed, an error; cancellation itself is not an error.
func Run(ctx context.Context, cfg Config, cl *kgo.Client, inputs []string) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if cl == nil {
		return Summary{}, errors.New("ingest: nil kgo client")
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.FlushTimeout == 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	ins, err := resolveInputs(inputs)
	if err != nil {
		return Summary{}, err
	}

	r := &run{
		cfg:   cfg,
		cl:    cl,
		lines: make(chan line, 1024),
		quit:  make(chan struct{}),
	}
	if cfg.Host == "" {
		r.host, _ = os.Hostname()
	}
	if len(cfg.Labels) > 0 {
		r.labels = make(map[string]string, len(cfg.Labels))
		for k, v := range cfg.Labels {
			r.labels[k] = v
		}
	}
	r.truncLbls = make(map[string]string, len(r.labels)+1)
	for k, v := range r.labels {
		r.truncLbls[k] = v
	}
	r.truncLbls[LabelTruncated] = "true"

	start := cfg.Now()
	var prog *progress
	if cfg.Progress != nil {
		prog = startProgress(cfg.Progress, cfg.Now, start, r.records.Load)
	}

	// Records are produced under a context that SIGINT does not cancel, so
	// that what was read is still delivered; it is cancelled only when the
	// final flush gives up.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()

	readErr := r.startReaders(ctx, ins)
	r.consume(ctx, pctx)
	close(r.quit)
	if readErr() == nil && cfg.Follow && ctx.Err() == nil {
		// Every input ended (stdin only): --follow still runs until cancelled.
		<-ctx.Done()
	}

	flushErr := r.flush(ctx, pcancel)
	sum := Summary{
		Records:   r.records.Load(),
		Bytes:     r.bytes.Load(),
		Failed:    r.failed.Load(),
		Skipped:   r.skipped.Load(),
		Truncated: r.truncated.Load(),
		Files:     int(r.files.Load()),
		Elapsed:   cfg.Now().Sub(start),
	}
	if prog != nil {
		prog.stop()
	}

	r.errMu.Lock()
	first := r.firstErr
	r.errMu.Unlock()
	switch {
	case readErr() != nil:
		return sum, fmt.Errorf("ingest: %w", readErr())
	case flushErr != nil:
		return sum, fmt.Errorf("ingest: %w", flushErr)
	case sum.Failed > 0:
		return sum, fmt.Errorf("ingest: %d of %d records failed, first: %w", sum.Failed, sum.Failed+sum.Records, first)
	}
	return sum, nil
}

// resolveInputs maps the arguments to inputs and checks that every file can
// be read, before anything is produced.
func resolveInputs(args []string) ([]input, error) {
	if len(args) == 0 {
		return []input{{source: StdinSource}}, nil
	}
	ins := make([]input, 0, len(args))
	for _, a := range args {
		if a == StdinArg {
			ins = append(ins, input{source: StdinSource})
			continue
		}
		if a == "" {
			return nil, errors.New("ingest: empty input file name")
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("ingest: input file %s: %w", a, unwrapPath(err))
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("ingest: input file %s: is a directory", a)
		}
		f, err := os.Open(a)
		if err != nil {
			return nil, fmt.Errorf("ingest: input file %s: %w", a, unwrapPath(err))
		}
		f.Close()
		ins = append(ins, input{source: a, path: a})
	}
	return ins, nil
}

// startReaders starts the readers: one after another, or all at once when
// following. The returned func reports the first read error once the
// readers it concerns have stopped.
func (r *run) startReaders(ctx context.Context, ins []input) func() error {
	rctx, stop := context.WithCancel(ctx)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		rerr error
	)
	fail := func(err error) {
		mu.Lock()
		if rerr == nil {
			rerr = err
		}
		mu.Unlock()
		stop()
	}
	if r.cfg.Follow {
		for _, in := range ins {
			wg.Go(func() {
				if err := r.read(rctx, in); err != nil {
					fail(err)
				}
			})
		}
	} else {
		wg.Go(func() {
			for _, in := range ins {
				if err := r.read(rctx, in); err != nil {
					fail(err)
					return
				}
				if rctx.Err() != nil {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		stop()
		close(r.lines)
	}()
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		return rerr
	}
}

// consume produces lines until the readers are done or, once ctx is
// cancelled, until they have handed over what they read (bounded by
// drainGrace).
func (r *run) consume(ctx, pctx context.Context) {
	done := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				return
			}
			r.produce(pctx, l)
		case <-done:
			done = nil
			grace = time.After(drainGrace)
		case <-grace:
			// A reader is stuck (stdin); take what is queued and stop.
			for {
				select {
				case l, ok := <-r.lines:
					if !ok {
						return
					}
					r.produce(pctx, l)
				default:
					return
				}
			}
		}
	}
}

// send hands a line to the producer; false means the producer stopped.
func (r *run) send(l line) bool {
	select {
	case r.lines <- l:
		return true
	case <-r.quit:
		return false
	}
}

func (r *run) hostFor(text string) string {
	if r.cfg.Host != "" {
		return r.cfg.Host
	}
	if r.cfg.HostOf != nil {
		if h := r.cfg.HostOf(text); h != "" {
			return h
		}
	}
	return r.host
}

func (r *run) produce(pctx context.Context, l line) {
	now := r.cfg.Now()
	host := r.hostFor(l.text)
	raw := schemas.RawLog{
		Host:       host,
		Source:     l.source,
		Line:       l.text,
		ReceivedAt: now.UnixMilli(),
		Labels:     r.labels,
	}
	if l.trunc {
		raw.Labels = r.truncLbls
		r.truncated.Add(1)
	}
	val, err := r.cfg.Encode(&raw)
	if err != nil {
		r.fail(fmt.Errorf("encode line from %s: %w", l.source, err))
		return
	}
	n := int64(len(l.text))
	rec := &kgo.Record{Topic: r.cfg.Topic, Key: []byte(host), Value: val, Timestamp: now}
	r.cl.Produce(pctx, rec, func(_ *kgo.Record, err error) {
		if err != nil {
			r.fail(err)
			return
		}
		r.records.Add(1)
		r.bytes.Add(n)
	})
}

func (r *run) fail(err error) {
	r.failed.Add(1)
	r.setErr(err)
}

func (r *run) setErr(err error) {
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
}

// flush waits for every produced record. Once ctx is cancelled it waits at
// most FlushTimeout, then fails what is still buffered.
func (r *run) flush(ctx context.Context, pcancel context.CancelFunc) error {
	if ctx.Err() == nil {
		err := r.cl.Flush(ctx)
		if err == nil || ctx.Err() == nil {
			return err
		}
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	if err := r.cl.Flush(tctx); err != nil {
		pcancel()
		return fmt.Errorf("flush: records still unacknowledged after %v: %w", r.cfg.FlushTimeout, err)
	}
	return nil
}
