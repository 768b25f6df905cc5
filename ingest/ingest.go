package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/logstream/logstream/processors/parse/mask"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
)

// Defaults for the zero values of Config.
const (
	DefaultPoll            = 250 * time.Millisecond
	DefaultFlushTimeout    = 10 * time.Second
	DefaultDeliveryTimeout = 30 * time.Second
)

// StdinSource is RawLog.Source for lines read from stdin; StdinArg is the
// input that names stdin.
const (
	StdinSource = "stdin"
	StdinArg    = "-"
)

// Labels set on a line that was cut: LabelTruncated is "true" and
// LabelOriginalBytes the line's length in bytes before the cut (without its
// line ending).
const (
	LabelTruncated     = "truncated"
	LabelOriginalBytes = "original_bytes"
)

// Stage is DeadLetter.Stage of the dead letters ingest writes.
const Stage = "ingest"

// Errors Run wraps, for callers to branch on.
var (
	// ErrInterrupted: ctx was cancelled before every input was read, or
	// before every line read was acknowledged.
	ErrInterrupted = errors.New("interrupted")
	// ErrUndelivered: the brokers stopped acknowledging (none answered for
	// DeliveryTimeout, or the client gave up on a record), so Run stopped
	// reading and gave up on what was still waiting.
	ErrUndelivered = errors.New("the brokers did not acknowledge")
)

// drainGrace bounds how long Run, once cancelled, waits for readers to hand
// over what they already read (a read blocked on stdin never returns).
const drainGrace = 500 * time.Millisecond

// Config configures Run.
type Config struct {
	// Topic is the raw topic; the caller names it (from topology/).
	Topic string
	// DeadLetterTopic receives the lines that are not valid UTF-8, as
	// DeadLetter records (from topology/).
	DeadLetterTopic string
	// Host, when set, is the host of every line (--host). When empty the
	// host is HostOf(line), and when that is empty too, os.Hostname().
	Host string
	// Follow tails the files (--follow), see the package doc.
	Follow bool
	// Encode turns a RawLog into the record value (the Avro codec). It is
	// called from one goroutine and must not keep the RawLog.
	Encode func(*schemas.RawLog) ([]byte, error)
	// EncodeDeadLetter turns a DeadLetter into a record value (the Avro
	// codec), called like Encode.
	EncodeDeadLetter func(*schemas.DeadLetter) ([]byte, error)
	// HostOf returns the host a line names, "" if none. May be nil.
	HostOf func(line string) string
	// Mask masks card numbers and the configured patterns in every line
	// before it is written (nil: card numbers only), as the parse stage
	// masks events: logs.raw keeps no readable card number either.
	Mask *mask.Masker
	// Labels are attached to every RawLog. Run does not modify the map.
	Labels map[string]string
	// MaxRecordBytes is the largest record batch the brokers accept on
	// Topic and DeadLetterTopic; a longer line is cut so that its record
	// fits. 0 asks the brokers (AskRecordLimit). Either way the client's
	// own ProducerBatchMaxBytes bounds it too.
	MaxRecordBytes int
	// MaxLineBytes bounds one line further; 0 means only MaxRecordBytes
	// does. A line cut for either is labelled truncated=true and
	// original_bytes=N.
	MaxLineBytes int
	// Progress, when set, receives a progress line ("\r  12,345 records
	// 45,678 rec/s") about 4 times a second, and a final one and a newline
	// when Run returns.
	Progress io.Writer
	// Now is the clock for RawLog.ReceivedAt, record timestamps and rates;
	// nil means time.Now. The delivery timeout runs on the wall clock.
	Now func() time.Time
	// Stdin is what "-" (or no input) reads; nil means os.Stdin.
	Stdin io.Reader
	// Poll is how often a followed file is checked at its end; 0 means
	// DefaultPoll.
	Poll time.Duration
	// FlushTimeout bounds the wait for acknowledgements once ctx is
	// cancelled (counted from the cancellation); 0 means
	// DefaultFlushTimeout. What is unacknowledged then is given up.
	FlushTimeout time.Duration
	// DeliveryTimeout: when lines wait and no acknowledgement (nor any
	// failure) has come for this long, the brokers are taken for gone and
	// Run ends with ErrUndelivered. 0 means DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// Metrics, when set, count every line's result.
	Metrics *Metrics
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("ingest: Config.Topic is empty")
	case c.DeadLetterTopic == "":
		return errors.New("ingest: Config.DeadLetterTopic is empty")
	case c.Encode == nil:
		return errors.New("ingest: Config.Encode is nil")
	case c.EncodeDeadLetter == nil:
		return errors.New("ingest: Config.EncodeDeadLetter is nil")
	case c.MaxRecordBytes < 0:
		return errors.New("ingest: Config.MaxRecordBytes is negative")
	case c.MaxRecordBytes > 0 && c.MaxRecordBytes < minRecordBytes:
		return fmt.Errorf("ingest: Config.MaxRecordBytes %d is below the %d bytes a record needs", c.MaxRecordBytes, minRecordBytes)
	case c.MaxLineBytes < 0:
		return errors.New("ingest: Config.MaxLineBytes is negative")
	case c.Poll < 0:
		return errors.New("ingest: Config.Poll is negative")
	case c.FlushTimeout < 0:
		return errors.New("ingest: Config.FlushTimeout is negative")
	case c.DeliveryTimeout < 0:
		return errors.New("ingest: Config.DeliveryTimeout is negative")
	case !utf8.ValidString(c.Host):
		// It goes into an Avro string.
		return fmt.Errorf("ingest: Config.Host %q is not valid UTF-8", c.Host)
	}
	for k, v := range c.Labels {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("ingest: label %q=%q is not valid UTF-8", k, v)
		}
	}
	return nil
}

// minRecordBytes is the smallest record limit Run works with: the overhead
// and room for a RawLog's fields.
const minRecordBytes = 1024

// Summary is what one Run did. Every line read (not counting the empty
// ones) ends as exactly one of Records, DeadLettered, Failed or
// Unacknowledged.
type Summary struct {
	Read         int64 // lines read and handed to the producer's queue (not empty)
	Records      int64 // lines produced to the raw topic and acknowledged by the broker
	Bytes        int64 // bytes of those lines as sent, without line endings
	DeadLettered int64 // lines that are not UTF-8, acknowledged on the dead-letter topic
	Failed       int64 // lines that could not be encoded or produced
	// Unacknowledged are lines that had no answer when Run gave up (ctx
	// cancelled and FlushTimeout passed, or the brokers gone): they may
	// or may not be on the topic.
	Unacknowledged int64
	Skipped        int64 // empty lines, not produced
	Truncated      int64 // lines cut to fit the record limit (also in Records or Failed)
	Files          int   // inputs opened; stdin counts as one
	// RecordLimit is the record size lines were fitted to.
	RecordLimit RecordLimit
	Elapsed     time.Duration // from the start of Run to the end of the flush
}

// Acknowledged counts the lines the brokers acknowledged: on the raw topic
// or, not being UTF-8, on the dead-letter topic.
func (s Summary) Acknowledged() int64 { return s.Records + s.DeadLettered }

// NotAcknowledged counts the lines read that the brokers did not
// acknowledge: failed or without an answer.
func (s Summary) NotAcknowledged() int64 { return s.Failed + s.Unacknowledged }

// Acks is the one-line account of acknowledgements, e.g. "1,234 lines
// acknowledged, 56 not (3 failed, 53 without an answer)".
func (s Summary) Acks() string {
	out := fmt.Sprintf("%s acknowledged, %s not", plural(s.Acknowledged(), "line"), commas(s.NotAcknowledged()))
	if s.NotAcknowledged() > 0 {
		out += fmt.Sprintf(" (%s failed, %s without an answer)", commas(s.Failed), commas(s.Unacknowledged))
	}
	return out
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
	if s.Unacknowledged > 0 {
		out += fmt.Sprintf(", %s not acknowledged", commas(s.Unacknowledged))
	}
	if s.DeadLettered > 0 {
		out += fmt.Sprintf(", %s not UTF-8 (dead letters)", commas(s.DeadLettered))
	}
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
	source string // RawLog.Source: the path as valid UTF-8
	path   string // "" for stdin
}

// line is one line handed from a reader to the producer.
type line struct {
	source string
	text   string
	trunc  bool  // cut by the reader (MaxLineBytes or the record limit)
	orig   int64 // the line's length before any cut, without its ending
	offset int64 // where the line starts in its input
	number int64 // 1-based line number in its input
}

// run is the state of one Run.
type run struct {
	cfg    Config
	cl     *kgo.Client
	host   string            // fallback host
	labels map[string]string // cfg.Labels, copied
	limit  RecordLimit
	seeds  string // the brokers, for messages

	lines chan line
	quit  chan struct{} // closed when the producer stops taking lines

	nread, records, bytes, failed, dead, skipped, truncated atomic.Int64
	files                                                   atomic.Int64
	complete                                                atomic.Bool // every input was read to its end

	// inflight counts records handed to the client and not yet answered;
	// lastAnswer is the wall-clock time (ns) of the last answer, or of
	// the produce that made inflight non-zero.
	inflight, lastAnswer atomic.Int64

	pctx    context.Context
	pcancel context.CancelCauseFunc
	stopRd  context.CancelFunc
	aborted chan struct{} // closed by abort

	errMu    sync.Mutex
	firstErr error // first failed line
	fatal    error // why Run gave up (abort)
}

// Run reads inputs ("-" or none = stdin) and produces their lines to
// cfg.Topic with cl until the inputs end or, with cfg.Follow, until ctx is
// cancelled. It returns the summary and an error when a line failed or
// went unacknowledged, reading failed, the brokers stopped answering
// (ErrUndelivered), or ctx was cancelled before the inputs were read
// (ErrInterrupted; with Follow, cancellation is how Run ends and is no
// error when every line read was acknowledged).
func Run(ctx context.Context, cfg Config, cl *kgo.Client, inputs []string) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if cl == nil {
		return Summary{}, errors.New("ingest: nil kgo client")
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
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	ins, err := resolveInputs(inputs)
	if err != nil {
		return Summary{}, err
	}

	r := &run{
		cfg:     cfg,
		cl:      cl,
		lines:   make(chan line, 1024),
		quit:    make(chan struct{}),
		aborted: make(chan struct{}),
	}
	if seeds, ok := cl.OptValue(kgo.SeedBrokers).([]string); ok {
		r.seeds = strings.Join(seeds, ",")
	}
	if err := r.setLimit(ctx); err != nil {
		return Summary{}, err
	}
	if r.cfg.MaxLineBytes == 0 || r.cfg.MaxLineBytes > r.limit.Bytes {
		// The reader keeps no more than a record can carry; produce cuts
		// the line to fit exactly.
		r.cfg.MaxLineBytes = r.limit.Bytes
	}
	if cfg.Host == "" {
		h, _ := os.Hostname()
		r.host = strings.ToValidUTF8(h, "\uFFFD")
	}
	if len(cfg.Labels) > 0 {
		r.labels = make(map[string]string, len(cfg.Labels))
		for k, v := range cfg.Labels {
			r.labels[k] = v
		}
	}

	start := cfg.Now()
	var prog *progress
	if cfg.Progress != nil {
		prog = startProgress(cfg.Progress, cfg.Now, start, r.records.Load, r.dead.Load)
	}

	// Records are produced under a context that SIGINT does not cancel, so
	// that what was read is still delivered. It ends FlushTimeout after
	// ctx does, or when Run gives up on the brokers (abort): a Produce
	// blocked on a full buffer then returns, and the client fails what it
	// still holds.
	r.pctx, r.pcancel = context.WithCancelCause(context.WithoutCancel(ctx))
	defer r.pcancel(nil)
	var flushTimer atomic.Pointer[time.Timer]
	stopAfter := context.AfterFunc(ctx, func() {
		flushTimer.Store(time.AfterFunc(cfg.FlushTimeout, func() {
			r.pcancel(fmt.Errorf("no acknowledgement within the flush timeout of %v after the interruption", cfg.FlushTimeout))
		}))
	})
	defer func() {
		stopAfter()
		if t := flushTimer.Load(); t != nil {
			t.Stop()
		}
	}()
	watchDone := make(chan struct{})
	defer close(watchDone)
	go r.watch(watchDone)

	rctx, stopRd := context.WithCancel(ctx)
	defer stopRd()
	r.stopRd = stopRd
	readErr := r.startReaders(rctx, ins)
	r.consume(ctx)
	close(r.quit)
	if readErr() == nil && cfg.Follow && ctx.Err() == nil {
		// Every input ended (stdin only): --follow still runs until
		// cancelled, or until the brokers are gone.
		select {
		case <-ctx.Done():
		case <-r.aborted:
		}
	}

	flushErr := r.flush()
	sum := Summary{
		Read:         r.nread.Load(),
		Records:      r.records.Load(),
		Bytes:        r.bytes.Load(),
		DeadLettered: r.dead.Load(),
		Failed:       r.failed.Load(),
		Skipped:      r.skipped.Load(),
		Truncated:    r.truncated.Load(),
		Files:        int(r.files.Load()),
		RecordLimit:  r.limit,
		Elapsed:      cfg.Now().Sub(start),
	}
	// Lines still queued or in flight: answers that come after this are
	// not counted.
	sum.Unacknowledged = max(0, sum.Read-sum.Records-sum.DeadLettered-sum.Failed)
	if prog != nil {
		prog.stop()
	}

	r.errMu.Lock()
	first, fatal := r.firstErr, r.fatal
	r.errMu.Unlock()
	interrupted := ctx.Err() != nil && (!cfg.Follow && !r.complete.Load() || sum.Unacknowledged > 0)
	switch {
	case readErr() != nil:
		return sum, fmt.Errorf("ingest: %w (%s)", readErr(), sum.Acks())
	case fatal != nil:
		return sum, fmt.Errorf("ingest: %w; %s", fatal, sum.Acks())
	case interrupted:
		return sum, fmt.Errorf("ingest: %w: %s", ErrInterrupted, sum.Acks())
	case flushErr != nil:
		return sum, fmt.Errorf("ingest: %w; %s", flushErr, sum.Acks())
	case sum.Failed > 0:
		return sum, fmt.Errorf("ingest: %d of %d lines failed, first: %w", sum.Failed, sum.Read, first)
	}
	return sum, nil
}

// setLimit sets the record limit: cfg.MaxRecordBytes or the brokers'
// answer, bounded by what the client itself builds.
func (r *run) setLimit(ctx context.Context) error {
	r.limit = RecordLimit{Bytes: r.cfg.MaxRecordBytes, From: "the configured limit"}
	if r.limit.Bytes == 0 {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		r.limit = AskRecordLimit(actx, kadm.NewClient(r.cl), r.cfg.Topic, r.cfg.DeadLetterTopic)
		cancel()
	}
	for _, t := range []string{r.cfg.Topic, r.cfg.DeadLetterTopic} {
		if c := clientLimit(r.cl, t); c < r.limit.Bytes {
			r.limit = RecordLimit{Bytes: c, From: "the producer's batch limit for " + t}
		}
	}
	if r.limit.Bytes < minRecordBytes {
		return fmt.Errorf("ingest: the record limit of %s is below the %d bytes a record needs", r.limit, minRecordBytes)
	}
	return nil
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
		// A path is bytes; RawLog.Source is an Avro string.
		ins = append(ins, input{source: strings.ToValidUTF8(a, "\uFFFD"), path: a})
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
			r.complete.Store(true)
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
// drainGrace). It stops at once when Run gives up on the brokers.
func (r *run) consume(ctx context.Context) {
	done := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				return
			}
			r.produce(l)
		case <-done:
			done = nil
			grace = time.After(drainGrace)
		case <-r.aborted:
			return
		case <-grace:
			// A reader is stuck (stdin); take what is queued and stop.
			for {
				select {
				case l, ok := <-r.lines:
					if !ok {
						return
					}
					r.produce(l)
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
		r.nread.Add(1)
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

// fits reports whether a record of key and value fits the record limit.
func (r *run) fits(key string, value []byte) bool {
	return len(key)+len(value)+recordOverhead <= r.limit.Bytes
}

// truncLabels are the labels of a line cut from orig bytes.
func (r *run) truncLabels(orig int64) map[string]string {
	m := make(map[string]string, len(r.labels)+2)
	for k, v := range r.labels {
		m[k] = v
	}
	m[LabelTruncated] = "true"
	m[LabelOriginalBytes] = strconv.FormatInt(orig, 10)
	return m
}

// produce sends one line: a RawLog cut to fit the record limit, or a dead
// letter when the line is not UTF-8 (an Avro string must be). Once Run has
// given up (pctx ended) it sends nothing: the line stays unacknowledged.
func (r *run) produce(l line) {
	if r.pctx.Err() != nil {
		return
	}
	now := r.cfg.Now()
	host := r.hostFor(l.text)
	// Masked before anything is written, dead letters included (a
	// masked card number keeps its length: offsets stay right).
	l.text, _ = r.cfg.Mask.String(l.text)
	if bad := firstInvalidUTF8(l.text); bad >= 0 {
		r.deadLetter(l, host, bad, now)
		return
	}
	raw := schemas.RawLog{
		Host:       host,
		Source:     l.source,
		Line:       l.text,
		ReceivedAt: now.UnixMilli(),
		Labels:     r.labels,
	}
	if l.trunc {
		raw.Labels = r.truncLabels(l.orig)
	}
	val, err := r.cfg.Encode(&raw)
	if err != nil {
		r.fail(fmt.Errorf("encode line %d of %s: %w", l.number, l.source, err))
		return
	}
	if !r.fits(host, val) {
		// Cut the line to what the record has room for: the rest of the
		// record's size does not depend on the line, so measure it with an
		// empty one (plus the largest length prefix).
		raw.Labels = r.truncLabels(l.orig)
		raw.Line = ""
		base, err := r.cfg.Encode(&raw)
		if err != nil {
			r.fail(fmt.Errorf("encode line %d of %s: %w", l.number, l.source, err))
			return
		}
		room := r.limit.Bytes - recordOverhead - len(host) - len(base) - binary.MaxVarintLen64
		raw.Line = cutUTF8(l.text, room)
		if val, err = r.cfg.Encode(&raw); err != nil {
			r.fail(fmt.Errorf("encode line %d of %s: %w", l.number, l.source, err))
			return
		}
		if room <= 0 || !r.fits(host, val) {
			r.fail(fmt.Errorf("line %d of %s: host, source and labels alone take more than the record limit of %s", l.number, l.source, r.limit))
			return
		}
		l.trunc = true
	}
	if l.trunc {
		r.truncated.Add(1)
		r.cfg.Metrics.cut()
	}
	n := int64(len(raw.Line))
	rec := &kgo.Record{Topic: r.cfg.Topic, Key: []byte(host), Value: val, Timestamp: now}
	r.send1(rec, func() {
		r.records.Add(1)
		r.bytes.Add(n)
		r.cfg.Metrics.line(ResultAcknowledged)
	})
}

// deadLetter sends a line that is not UTF-8 to the dead-letter topic, with
// its bytes and where the first invalid byte is. It was never on a topic:
// the dead letter names the raw topic it was meant for, partition -1, and
// as offset where the line starts in its input.
func (r *run) deadLetter(l line, host string, bad int, now time.Time) {
	reason := fmt.Sprintf("line %d of %s is not valid UTF-8: byte 0x%02X at offset %d of the line starts no valid UTF-8 sequence",
		l.number, l.source, l.text[bad], bad)
	dl := schemas.DeadLetter{
		OriginalKey:     []byte(host),
		OriginalValue:   []byte(l.text),
		SourceTopic:     r.cfg.Topic,
		SourcePartition: -1,
		SourceOffset:    l.offset,
		Stage:           Stage,
		Error:           reason,
		Time:            now.UnixMilli(),
	}
	if l.trunc {
		dl.Error = fmt.Sprintf("%s (the dead letter keeps the first %d of the line's %d bytes)", reason, len(l.text), l.orig)
	}
	val, err := r.cfg.EncodeDeadLetter(&dl)
	if err != nil {
		r.fail(fmt.Errorf("encode the dead letter of line %d of %s: %w", l.number, l.source, err))
		return
	}
	if !r.fits(host, val) {
		// Keep what fits of the bytes; the reason says how much. The
		// length prefixes only shrink, and the longer reason is allowed
		// for with 128 bytes.
		room := r.limit.Bytes - recordOverhead - len(host) - (len(val) - len(dl.OriginalValue)) - 128
		if room < 0 {
			room = 0
		}
		dl.OriginalValue = dl.OriginalValue[:min(room, len(dl.OriginalValue))]
		dl.Error = fmt.Sprintf("%s (the dead letter keeps the first %d of the line's %d bytes)", reason, len(dl.OriginalValue), l.orig)
		if val, err = r.cfg.EncodeDeadLetter(&dl); err != nil || !r.fits(host, val) {
			r.fail(fmt.Errorf("line %d of %s is not valid UTF-8 and its dead letter does not fit the record limit of %s", l.number, l.source, r.limit))
			return
		}
	}
	rec := &kgo.Record{Topic: r.cfg.DeadLetterTopic, Key: []byte(host), Value: val, Timestamp: now}
	r.send1(rec, func() {
		r.dead.Add(1)
		r.cfg.Metrics.line(ResultDeadLettered)
	})
}

// send1 produces rec; acked runs when the broker acknowledged it.
func (r *run) send1(rec *kgo.Record, acked func()) {
	if r.inflight.Load() == 0 {
		// The delivery timeout counts from the first record waiting. Set
		// before the record counts, so that the watchdog never pairs it
		// with an old answer; only this goroutine adds records.
		r.lastAnswer.Store(time.Now().UnixNano())
	}
	r.inflight.Add(1)
	r.cl.Produce(r.pctx, rec, func(rec *kgo.Record, err error) {
		r.lastAnswer.Store(time.Now().UnixNano())
		defer r.inflight.Add(-1)
		if err == nil {
			acked()
			return
		}
		r.fail(fmt.Errorf("produce to %s: %w", rec.Topic, err))
		if !recordOnly(err) && r.pctx.Err() == nil {
			// Not this record's fault: the next ones would fail alike.
			r.abort(fmt.Errorf("%w: producing to %s at %s failed: %v", ErrUndelivered, rec.Topic, r.seeds, err))
		}
	})
}

// recordOnly reports whether err concerns one record only, so that the
// others can still be delivered.
func recordOnly(err error) bool {
	for _, e := range []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage, kerr.InvalidTimestamp} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (r *run) fail(err error) {
	r.failed.Add(1)
	r.cfg.Metrics.line(ResultFailed)
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
}

// abort gives up on the brokers: reading stops, a blocked Produce returns,
// and the client fails what it holds.
func (r *run) abort(err error) {
	r.errMu.Lock()
	first := r.fatal == nil
	if first {
		r.fatal = err
	}
	r.errMu.Unlock()
	if !first {
		return
	}
	close(r.aborted)
	r.stopRd()
	r.pcancel(err)
}

// watch ends Run when lines wait and the brokers have not answered for
// DeliveryTimeout, whatever the client's own timeouts are.
func (r *run) watch(done <-chan struct{}) {
	t := time.NewTicker(min(r.cfg.DeliveryTimeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		n := r.inflight.Load()
		if n == 0 {
			continue
		}
		if quiet := time.Since(time.Unix(0, r.lastAnswer.Load())); quiet >= r.cfg.DeliveryTimeout {
			r.abort(fmt.Errorf("%w: no answer from the brokers at %s for %v with %s waiting", ErrUndelivered, r.seeds, r.cfg.DeliveryTimeout.Round(time.Second), plural(n, "record")))
			return
		}
	}
}

// flush waits for every produced record, until pctx ends (FlushTimeout
// after the cancellation, or abort).
func (r *run) flush() error {
	if err := r.cl.Flush(r.pctx); err != nil {
		if cause := context.Cause(r.pctx); cause != nil {
			return cause
		}
		return err
	}
	return nil
}
