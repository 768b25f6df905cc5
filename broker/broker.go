// Package broker connects logstream to Kafka: it starts the embedded
// Kafka-protocol broker (kfake) when no cluster is configured, creates the
// pipeline's topics with their explicit partition counts, and builds the
// sarama configuration goka runs on.
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultEmbeddedAddr is where the embedded broker listens unless told otherwise.
const DefaultEmbeddedAddr = "127.0.0.1:9092"

// Embedded is an in-process Kafka-protocol broker. Other Kafka tools (kcat,
// franz-go, sarama, the Java clients) can attach to Addr.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// EmbeddedConfig configures the embedded broker.
type EmbeddedConfig struct {
	// Addr is host:port to listen on; port 0 picks a free port.
	Addr string
	// DataDir persists topics, offsets and groups across restarts; "" keeps
	// everything in memory.
	DataDir string
	// MinSessionTimeout lowers the broker's minimum consumer-group session
	// timeout (6 s by default) so that tests rebalance faster. Zero keeps it.
	MinSessionTimeout time.Duration
	// TLS, when set, makes the broker accept TLS connections only.
	TLS *tls.Config
	// Users, when any, make the broker require SASL (PLAIN or SCRAM)
	// from every client.
	Users []EmbeddedUser
}

// EmbeddedUser is a SASL user of the embedded broker.
type EmbeddedUser struct {
	Mechanism, User, Password string
}

// ParseEmbeddedUsers reads "MECHANISM:user:password,..." (the
// --embedded-sasl setting); the password may hold colons, not commas.
func ParseEmbeddedUsers(v string) ([]EmbeddedUser, error) {
	var out []EmbeddedUser
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		f := strings.SplitN(part, ":", 3)
		if len(f) != 3 || f[1] == "" || f[2] == "" {
			return nil, fmt.Errorf("broker: embedded SASL user %q is not MECHANISM:user:password", redactUser(part))
		}
		m := strings.ToUpper(f[0])
		if m != SASLPlain && m != SASLScram256 && m != SASLScram512 {
			return nil, fmt.Errorf("broker: embedded SASL mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f[0])
		}
		out = append(out, EmbeddedUser{Mechanism: m, User: f[1], Password: f[2]})
	}
	return out, nil
}

// redactUser hides the password of a MECHANISM:user:password.
func redactUser(s string) string {
	if f := strings.SplitN(s, ":", 3); len(f) == 3 {
		return f[0] + ":" + f[1] + ":***"
	}
	return s
}

// EmbeddedTLS loads the embedded broker's certificate and key.
func EmbeddedTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("broker: embedded-tls-cert and embedded-tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("broker: embedded TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// StartEmbedded starts a one-broker kfake cluster on cfg.Addr.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultEmbeddedAddr
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: embedded address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker: embedded address %q: invalid port", cfg.Addr)
	}
	if port == 0 {
		// kfake treats port 0 as "pick one"; reserve one here so the
		// address we print is the one it listens on.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("broker: embedded broker: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("logstream-embedded"),
		// kfake always listens on 127.0.0.1; honour the host the user asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: embedded data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.MinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(cfg.MinSessionTimeout))
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.User, u.Password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			return nil, fmt.Errorf("broker: cannot listen on %s (is another broker running? use --embedded-addr): %w", cfg.Addr, err)
		}
		return nil, fmt.Errorf("broker: embedded broker: %w", err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, errors.New("broker: embedded broker has no listener")
	}
	return &Embedded{cluster: c, addr: addrs[0]}, nil
}

// Addr is the host:port clients connect to.
func (e *Embedded) Addr() string { return e.addr }

// Cluster exposes the kfake cluster for tests that inject faults.
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker. With a DataDir, its data stays on disk.
func (e *Embedded) Close() { e.cluster.Close() }
