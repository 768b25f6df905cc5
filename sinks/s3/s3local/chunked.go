package s3local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// isAWSChunked reports whether the body of r is in the aws-chunked content
// encoding, which the SDK uses for streaming signatures and trailing
// checksums. Either header alone is enough: some clients send the
// STREAMING- payload hash without listing aws-chunked in Content-Encoding.
func isAWSChunked(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return true
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(c), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// errChunkFormat reports a body that is not valid aws-chunked encoding.
var errChunkFormat = errors.New("malformed aws-chunked body")

// maxChunkLine bounds a chunk header or trailer line, so that a client
// cannot make the server buffer an unbounded line. Real lines are under
// 200 bytes (hex size, ";chunk-signature=" and 64 hex digits).
const maxChunkLine = 4096

// chunkedReader decodes the aws-chunked content encoding:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n [trailer: value\r\n]... \r\n
//
// Chunk signatures and trailing checksums are not verified: the server
// does not verify signatures at all (see Server), and the data of a chunk
// is only accepted with the framing that follows it intact.
type chunkedReader struct {
	r       *bufio.Reader
	left    int64 // data bytes left in the current chunk
	err     error // sticky: io.EOF after the last chunk
	started bool  // a chunk has been read, so its trailing CRLF is due
}

func newChunkedReader(r io.Reader) *chunkedReader {
	return &chunkedReader{r: bufio.NewReaderSize(r, maxChunkLine)}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 {
		if c.err = c.nextChunk(); c.err != nil {
			return 0, c.err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // EOF inside a chunk's data
	}
	c.err = err
	return n, err
}

// nextChunk reads the framing up to the next chunk's data: the CRLF that
// ends the previous chunk and the next chunk header. After the last
// (empty) chunk it reads the trailers and returns io.EOF.
func (c *chunkedReader) nextChunk() error {
	if c.started {
		line, err := c.line()
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk data is longer than its declared size", errChunkFormat)
		}
	}
	c.started = true
	line, err := c.line()
	if err != nil {
		return err
	}
	sizeHex, _, _ := bytes.Cut(line, []byte(";"))
	size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeHex)), 16, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("%w: bad chunk size %q", errChunkFormat, sizeHex)
	}
	if size > 0 {
		c.left = size
		return nil
	}
	// The last chunk: trailers (checksums, a trailer signature) until an
	// empty line. Some encoders end the body right after the last
	// trailer, so EOF also ends it.
	for {
		line, err := c.line()
		if err == io.ErrUnexpectedEOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return io.EOF
		}
	}
}

// line reads one CRLF-terminated line without its terminator. It accepts a
// bare LF, as HTTP/1.1 chunked decoders do.
func (c *chunkedReader) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("%w: line longer than %d bytes", errChunkFormat, maxChunkLine)
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}
