// Package versitygw starts a real S3-compatible server, versitygw, on
// loopback for integration tests: objects in a temporary directory
// (posix backend), static root credentials.
package versitygw

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Credentials of the server's root account.
const (
	AccessKey = "logstream-test"
	SecretKey = "logstream-test-secret-key"
)

// Binary finds versitygw: $VERSITYGW, the repository's .tools/bin (where
// `make test` installs it), or PATH.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".tools", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return exec.LookPath("versitygw")
}

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Dir      string // the posix backend's root: one directory per bucket
}

// Start runs versitygw until the test ends. Without the binary the test
// fails under CI (make test installs it) and is skipped elsewhere.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("versitygw not found (make test installs it into .tools/bin): %v", err)
		}
		t.Skipf("versitygw not found (run make test, which installs it into .tools/bin): %v", err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	s := &Server{Endpoint: "http://" + addr, Dir: root}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw exited: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s within 30s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Bucket creates a bucket: with the posix backend a bucket is a directory.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.Dir, name), 0o755); err != nil {
		t.Fatal(fmt.Errorf("create bucket %s: %w", name, err))
	}
}
