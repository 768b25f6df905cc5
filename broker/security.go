package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	signer "github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms Security accepts.
const (
	SASLPlain       = "PLAIN"
	SASLScram256    = "SCRAM-SHA-256"
	SASLScram512    = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
	// SASLAWSMSKIAM authenticates to Amazon MSK with IAM: an OAUTHBEARER
	// token signed with the default AWS credential chain (environment,
	// shared files, web identity as IRSA gives a pod, instance role).
	SASLAWSMSKIAM = "AWS_MSK_IAM"
)

// SASLMechanisms lists the mechanisms, for help texts and errors.
var SASLMechanisms = []string{SASLPlain, SASLScram256, SASLScram512, SASLOAuthBearer, SASLAWSMSKIAM}

// SecurityConfig is how to connect to the brokers, as the settings say it.
type SecurityConfig struct {
	TLS bool
	// CAFile: PEM certificates to trust instead of the system's.
	CAFile string
	// CertFile and KeyFile: a client certificate (mutual TLS).
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName         string
	InsecureSkipVerify bool

	// Mechanism is one of SASLMechanisms, or "" for no SASL.
	Mechanism          string
	Username, Password string
	// TokenFile (OAUTHBEARER) holds the token; it is read again at every
	// authentication, so a token rotated on disk is picked up.
	TokenFile string
	// Region (AWS_MSK_IAM) of the cluster; empty takes AWS_REGION, then
	// AWS_DEFAULT_REGION.
	Region string
}

// Security is the TLS and SASL every Kafka client of the process uses, the
// franz-go clients and goka's sarama clients alike. The zero value (and
// nil) connects in plain text without SASL.
type Security struct {
	cfg SecurityConfig
	tls *tls.Config
}

// NewSecurity checks cfg and loads its files.
func NewSecurity(cfg SecurityConfig) (*Security, error) {
	s := &Security{cfg: cfg}
	tlsAsked := cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" || cfg.ServerName != "" || cfg.InsecureSkipVerify
	if tlsAsked && !cfg.TLS {
		return nil, errors.New("broker: kafka-tls-* settings are given but kafka-tls is off")
	}
	if cfg.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.InsecureSkipVerify}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("broker: kafka-tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("broker: kafka-tls-ca: %s holds no PEM certificate", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		switch {
		case cfg.CertFile != "" && cfg.KeyFile != "":
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("broker: kafka-tls-cert and kafka-tls-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		case cfg.CertFile != "" || cfg.KeyFile != "":
			return nil, errors.New("broker: kafka-tls-cert and kafka-tls-key go together")
		}
		s.tls = tc
	}
	switch m := strings.ToUpper(cfg.Mechanism); m {
	case "":
		if cfg.Username != "" || cfg.Password != "" || cfg.TokenFile != "" {
			return nil, errors.New("broker: kafka-sasl-* settings are given but kafka-sasl-mechanism is empty")
		}
	case SASLPlain, SASLScram256, SASLScram512:
		if cfg.Username == "" || cfg.Password == "" {
			return nil, fmt.Errorf("broker: SASL %s needs kafka-sasl-username and kafka-sasl-password", m)
		}
		s.cfg.Mechanism = m
	case SASLOAuthBearer:
		if cfg.TokenFile == "" {
			return nil, errors.New("broker: SASL OAUTHBEARER needs kafka-sasl-token-file")
		}
		if _, err := s.token(context.Background()); err != nil {
			return nil, err
		}
		s.cfg.Mechanism = m
	case SASLAWSMSKIAM:
		// The token names the region's endpoint; it is signed locally,
		// so a bad region shows only when the broker refuses it.
		s.cfg.Region = cmp.Or(cfg.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
		if s.cfg.Region == "" {
			return nil, errors.New("broker: SASL AWS_MSK_IAM needs kafka-sasl-aws-region (or AWS_REGION)")
		}
		s.cfg.Mechanism = m
	default:
		return nil, fmt.Errorf("broker: kafka-sasl-mechanism %q is not one of %s", cfg.Mechanism, strings.Join(SASLMechanisms, ", "))
	}
	return s, nil
}

// String says how the clients connect, without secrets: for logs and
// errors.
func (s *Security) String() string {
	if s == nil {
		return "plaintext"
	}
	out := "plaintext"
	if s.tls != nil {
		out = "TLS"
	}
	if s.cfg.Mechanism != "" {
		out += ", SASL " + s.cfg.Mechanism
		if s.cfg.Username != "" {
			out += " as " + s.cfg.Username
		}
	}
	return out
}

// token returns the OAUTHBEARER token: the token file's contents, or one
// signed for MSK IAM.
func (s *Security) token(ctx context.Context) (string, error) {
	switch s.cfg.Mechanism {
	case SASLAWSMSKIAM:
		tok, _, err := signer.GenerateAuthToken(ctx, s.cfg.Region)
		if err != nil {
			return "", fmt.Errorf("broker: SASL AWS_MSK_IAM: signing a token: %w", err)
		}
		return tok, nil
	default:
		b, err := os.ReadFile(s.cfg.TokenFile)
		if err != nil {
			return "", fmt.Errorf("broker: SASL OAUTHBEARER: kafka-sasl-token-file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("broker: SASL OAUTHBEARER: %s is empty", s.cfg.TokenFile)
		}
		return tok, nil
	}
}

// mechanism is the franz-go SASL mechanism, or nil.
func (s *Security) mechanism() sasl.Mechanism {
	switch s.cfg.Mechanism {
	case SASLPlain:
		return plain.Auth{User: s.cfg.Username, Pass: s.cfg.Password}.AsMechanism()
	case SASLScram256:
		return scram.Auth{User: s.cfg.Username, Pass: s.cfg.Password}.AsSha256Mechanism()
	case SASLScram512:
		return scram.Auth{User: s.cfg.Username, Pass: s.cfg.Password}.AsSha512Mechanism()
	case SASLOAuthBearer, SASLAWSMSKIAM:
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, err := s.token(ctx)
			return oauth.Auth{Token: tok}, err
		})
	}
	return nil
}

// KgoOpts returns the franz-go client options for s (none for nil).
func (s *Security) KgoOpts() []kgo.Opt {
	if s == nil {
		return nil
	}
	var opts []kgo.Opt
	if s.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.tls.Clone()))
	}
	if m := s.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// Sarama sets cfg's network security to s (nothing for nil).
func (s *Security) Sarama(cfg *sarama.Config) {
	if s == nil {
		return
	}
	if s.tls != nil {
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = s.tls.Clone()
	}
	if s.cfg.Mechanism == "" {
		return
	}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.User, cfg.Net.SASL.Password = s.cfg.Username, s.cfg.Password
	switch s.cfg.Mechanism {
	case SASLPlain:
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case SASLScram256, SASLScram512:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		if s.cfg.Mechanism == SASLScram512 {
			cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		}
		m := s.mechanism()
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{mech: m} }
	case SASLOAuthBearer, SASLAWSMSKIAM:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeOAuth
		cfg.Net.SASL.TokenProvider = tokenProvider{s}
	}
}

// scramClient runs franz-go's SCRAM exchange for sarama, so that both
// clients share one implementation of the mechanism.
type scramClient struct {
	mech  sasl.Mechanism
	sess  sasl.Session
	first []byte
	begun bool
	done  bool
}

func (c *scramClient) Begin(_, _, _ string) error {
	sess, first, err := c.mech.Authenticate(context.Background(), "")
	if err != nil {
		return err
	}
	c.sess, c.first = sess, first
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) {
	if !c.begun {
		c.begun = true
		return string(c.first), nil
	}
	done, resp, err := c.sess.Challenge([]byte(challenge))
	if err != nil {
		return "", err
	}
	c.done = done
	return string(resp), nil
}

func (c *scramClient) Done() bool { return c.done }

type tokenProvider struct{ s *Security }

func (p tokenProvider) Token() (*sarama.AccessToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := p.s.token(ctx)
	if err != nil {
		return nil, err
	}
	return &sarama.AccessToken{Token: tok}, nil
}

// Check connects to brokers as s says and asks for the cluster's metadata,
// within timeout: a wrong password, an untrusted certificate or a broker
// that speaks another protocol becomes one line naming the brokers and
// how the client connected, not a client retrying for ever.
func Check(ctx context.Context, brokers []string, s *Security, timeout time.Duration) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, s.KgoOpts()...)...)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("no answer in %s", timeout)
		case errors.Is(err, io.EOF) && s != nil && s.cfg.Mechanism != "":
			// A broker that refuses the credentials may just hang up.
			err = fmt.Errorf("the broker closed the connection while authenticating (wrong user or password?): %w", err)
		}
		return fmt.Errorf("cannot connect to Kafka at %s (%s): %w", strings.Join(brokers, ","), s, err)
	}
	return nil
}
