package broker_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/broker/brokertest"
)

func testCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	c, k, err := brokertest.SelfSignedCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// secureBroker starts the embedded broker requiring TLS and SASL users
// ("MECHANISM:user:password,...").
func secureBroker(t *testing.T, users string) (addr, caFile string) {
	t.Helper()
	cert, key := testCert(t, t.TempDir())
	tc, err := broker.EmbeddedTLS(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	us, err := broker.ParseEmbeddedUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", TLS: tc, Users: us})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Addr(), cert
}

func security(t *testing.T, cfg broker.SecurityConfig) *broker.Security {
	t.Helper()
	s, err := broker.NewSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every mechanism the embedded broker can check, through franz-go and
// through sarama (goka's client), over TLS; and what a wrong setting
// says, within a bounded time.
func TestTLSAndSASLBothClients(t *testing.T) {
	addr, ca := secureBroker(t, "SCRAM-SHA-256:ops:s3cret-256,SCRAM-SHA-512:ops512:s3cret:512,PLAIN:plainuser:plainpass")
	for _, c := range []struct{ mech, user, pass string }{
		{"SCRAM-SHA-256", "ops", "s3cret-256"},
		{"scram-sha-512", "ops512", "s3cret:512"},
		{"PLAIN", "plainuser", "plainpass"},
	} {
		s := security(t, broker.SecurityConfig{TLS: true, CAFile: ca, Mechanism: c.mech, Username: c.user, Password: c.pass})
		if err := broker.Check(context.Background(), []string{addr}, s, 10*time.Second); err != nil {
			t.Fatalf("%s, franz-go: %v", c.mech, err)
		}
		cl, err := sarama.NewClient([]string{addr}, broker.SaramaConfig(broker.Tuning{Security: s}))
		if err != nil {
			t.Fatalf("%s, sarama: %v", c.mech, err)
		}
		if _, err := cl.Topics(); err != nil {
			t.Fatalf("%s, sarama metadata: %v", c.mech, err)
		}
		cl.Close()
	}

	wrong := []struct {
		name string
		cfg  broker.SecurityConfig
		says []string
	}{
		{"wrong password", broker.SecurityConfig{TLS: true, CAFile: ca, Mechanism: "SCRAM-SHA-256", Username: "ops", Password: "nope"},
			[]string{addr, "TLS, SASL SCRAM-SHA-256 as ops", "wrong user or password?"}},
		{"no SASL", broker.SecurityConfig{TLS: true, CAFile: ca}, []string{addr, "TLS"}},
		{"untrusted certificate", broker.SecurityConfig{TLS: true, Mechanism: "PLAIN", Username: "plainuser", Password: "plainpass"},
			[]string{addr, "certificate"}},
		{"no TLS", broker.SecurityConfig{Mechanism: "PLAIN", Username: "plainuser", Password: "plainpass"}, []string{addr, "plaintext, SASL PLAIN"}},
	}
	for _, w := range wrong {
		s := security(t, w.cfg)
		start := time.Now()
		err := broker.Check(context.Background(), []string{addr}, s, 5*time.Second)
		if err == nil {
			t.Fatalf("%s: connected", w.name)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: took %s", w.name, d)
		}
		for _, want := range w.says {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", w.name, err, want)
			}
		}
		if strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), "plainpass") {
			t.Errorf("%s: the error shows the password: %v", w.name, err)
		}
		t.Logf("%s: %v", w.name, err)
	}
}

// OAUTHBEARER and MSK IAM cannot be checked by the embedded broker: the
// tests look at what the clients would send.
func TestOAuthBearerToken(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte("tok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := security(t, broker.SecurityConfig{Mechanism: "OAUTHBEARER", TokenFile: tf})
	first := func() string {
		t.Helper()
		tok, err := broker.SaramaToken(s)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := broker.KgoFirstMessage(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, "auth=Bearer "+tok+"\x01") {
			t.Fatalf("franz-go's first message %q lacks the token %q", msg, tok)
		}
		return tok
	}
	if got := first(); got != "tok-1" {
		t.Fatalf("token %q, want the file's", got)
	}
	// A rotated token is read at the next authentication.
	if err := os.WriteFile(tf, []byte("tok-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != "tok-2" {
		t.Fatalf("token %q after rotation, want tok-2", got)
	}
	if _, err := broker.NewSecurity(broker.SecurityConfig{Mechanism: "OAUTHBEARER", TokenFile: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing token file is accepted")
	}
}

func TestMSKIAMToken(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOGSTREAMTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-for-the-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := broker.NewSecurity(broker.SecurityConfig{Mechanism: "AWS_MSK_IAM"}); err == nil {
		t.Fatal("AWS_MSK_IAM without a region is accepted")
	}
	s := security(t, broker.SecurityConfig{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1", TLS: true})
	tok, err := broker.SaramaToken(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "kafka.eu-west-1.amazonaws.com" || q.Get("Action") != "kafka-cluster:Connect" ||
		!strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDLOGSTREAMTEST/") || q.Get("X-Amz-Signature") == "" {
		t.Fatalf("token is not a signed kafka-cluster:Connect request: %s", raw)
	}
	msg, err := broker.KgoFirstMessage(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "auth=Bearer ") {
		t.Fatalf("franz-go's first message %q carries no bearer token", msg)
	}
}

func TestSecuritySettingsErrors(t *testing.T) {
	for _, c := range []broker.SecurityConfig{
		{CAFile: "ca.pem"},                  // TLS file without TLS
		{TLS: true, CertFile: "cert.pem"},   // cert without key
		{TLS: true, CAFile: "/nonexistent"}, // unreadable CA
		{Mechanism: "PLAIN", Username: "u"}, // no password
		{Mechanism: "GSSAPI", Username: "u", Password: "p"},
		{Username: "u", Password: "p"}, // no mechanism
	} {
		if _, err := broker.NewSecurity(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := broker.ParseEmbeddedUsers("SCRAM-SHA-256:user"); err == nil {
		t.Error("a user without a password accepted")
	}
	if _, err := broker.ParseEmbeddedUsers("PLAIN::secretpw"); err == nil {
		t.Error("a user without a name accepted")
	} else if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := broker.ParseEmbeddedUsers("OAUTHBEARER:u:p"); err == nil {
		t.Error("an embedded OAUTHBEARER user accepted")
	}
}
