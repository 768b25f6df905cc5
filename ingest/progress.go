package ingest

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// progressEvery is how often the progress line is refreshed.
const progressEvery = 250 * time.Millisecond

// progress refreshes "\r  12,345 records  45,678 rec/s" on a writer, with
// ", 3 dead letters" once lines that are not UTF-8 went to the dead-letter
// topic. The rate is taken over the last second or so, so that it tracks
// the current speed (and drops to 0 while a followed file is idle).
type progress struct {
	w     io.Writer
	now   func() time.Time
	count func() int64
	dead  func() int64
	done  chan struct{}
	quit  chan struct{}

	// samples of (time, count), oldest first, at most len(samples).
	times  [5]time.Time
	counts [5]int64
	n      int
}

func startProgress(w io.Writer, now func() time.Time, start time.Time, count, dead func() int64) *progress {
	p := &progress{w: w, now: now, count: count, dead: dead, done: make(chan struct{}), quit: make(chan struct{})}
	p.sample(start, 0)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.write()
		}
	}
}

// stop ends the refreshes and writes the final line and a newline.
func (p *progress) stop() {
	close(p.quit)
	<-p.done
	p.write()
	io.WriteString(p.w, "\n")
}

func (p *progress) sample(t time.Time, c int64) {
	if p.n == len(p.times) {
		copy(p.times[:], p.times[1:])
		copy(p.counts[:], p.counts[1:])
		p.n--
	}
	p.times[p.n], p.counts[p.n] = t, c
	p.n++
}

func (p *progress) write() {
	now, c := p.now(), p.count()
	p.sample(now, c)
	rate := 0.0
	if dt := now.Sub(p.times[0]).Seconds(); dt > 0 {
		rate = float64(c-p.counts[0]) / dt
	}
	dl := ""
	if d := p.dead(); d > 0 {
		dl = ", " + plural(d, "dead letter")
	}
	// Trailing spaces wipe what a longer previous line left behind.
	fmt.Fprintf(p.w, "\r  %s records  %s rec/s%s    ", commas(c), commas(int64(rate+0.5)), dl)
}

// commas formats n with thousands separators: 1234567 -> "1,234,567".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := false
	if n < 0 {
		neg, s = true, s[1:]
	}
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	head := len(s) % 3
	if head == 0 {
		head = 3
	}
	out = append(out, s[:head]...)
	for i := head; i < len(s); i += 3 {
		out = append(out, ',')
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}

// plural is "1 record", "2,000 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return commas(n) + " " + noun + "s"
}

// formatBytes is a decimal (SI) size: "512 B", "1.2 MB".
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit-0.05 || u == "TB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	panic("unreachable")
}
