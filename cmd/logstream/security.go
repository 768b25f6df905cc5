package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/logstream/logstream/broker"
)

// The Kafka clients' TLS and SASL (every command that connects to Kafka
// takes them), and what the embedded broker requires (the commands that
// can start it). Secrets can come from files mounted by the deployment:
// --kafka-sasl-password-file, --kafka-sasl-token-file; flags show in the
// process list, so pass secrets by environment or file.
var (
	sKafkaTLS = boolSetting("kafka-tls", "LOGSTREAM_KAFKA_TLS", "connect to the brokers with TLS (the system's trusted roots unless --kafka-tls-ca)",
		func(c *Config, b bool) { c.Kafka.TLS = b })
	sKafkaTLSCA = setting{name: "kafka-tls-ca", env: "LOGSTREAM_KAFKA_TLS_CA", usage: "PEM file of the certificates to trust for the brokers instead of the system's",
		parse: func(c *Config, v string) error { c.Kafka.CAFile = strings.TrimSpace(v); return nil }}
	sKafkaTLSCert = setting{name: "kafka-tls-cert", env: "LOGSTREAM_KAFKA_TLS_CERT", usage: "PEM file of a client certificate (mutual TLS; with --kafka-tls-key)",
		parse: func(c *Config, v string) error { c.Kafka.CertFile = strings.TrimSpace(v); return nil }}
	sKafkaTLSKey = setting{name: "kafka-tls-key", env: "LOGSTREAM_KAFKA_TLS_KEY", usage: "PEM file of the client certificate's key",
		parse: func(c *Config, v string) error { c.Kafka.KeyFile = strings.TrimSpace(v); return nil }}
	sKafkaTLSServerName = setting{name: "kafka-tls-server-name", env: "LOGSTREAM_KAFKA_TLS_SERVER_NAME", usage: "name to check in the brokers' certificates instead of the host dialed",
		parse: func(c *Config, v string) error { c.Kafka.ServerName = strings.TrimSpace(v); return nil }}
	sKafkaTLSInsecure = boolSetting("kafka-tls-insecure-skip-verify", "LOGSTREAM_KAFKA_TLS_INSECURE_SKIP_VERIFY", "accept any broker certificate (testing only: anyone on the path can read and change the traffic)",
		func(c *Config, b bool) { c.Kafka.InsecureSkipVerify = b })
	sKafkaSASLMechanism = setting{name: "kafka-sasl-mechanism", env: "LOGSTREAM_KAFKA_SASL_MECHANISM",
		usage: "SASL mechanism: " + strings.Join(broker.SASLMechanisms, ", ") + " (AWS_MSK_IAM: OAUTHBEARER tokens signed with the default AWS credential chain); empty: none",
		parse: func(c *Config, v string) error { c.Kafka.Mechanism = strings.TrimSpace(v); return nil }}
	sKafkaSASLUsername = setting{name: "kafka-sasl-username", env: "LOGSTREAM_KAFKA_SASL_USERNAME", usage: "SASL user (PLAIN, SCRAM)",
		parse: func(c *Config, v string) error { c.Kafka.Username = v; return nil }}
	sKafkaSASLPassword = setting{name: "kafka-sasl-password", env: "LOGSTREAM_KAFKA_SASL_PASSWORD", secret: true,
		usage: "SASL password (PLAIN, SCRAM); --kafka-sasl-password-file reads it from a file instead",
		parse: func(c *Config, v string) error { c.Kafka.Password = v; return nil }}
	sKafkaSASLPasswordFile = setting{name: "kafka-sasl-password-file", env: "LOGSTREAM_KAFKA_SASL_PASSWORD_FILE", usage: "file holding the SASL password (a mounted secret); used when --kafka-sasl-password is empty",
		parse: func(c *Config, v string) error { c.kafkaPasswordFile = strings.TrimSpace(v); return nil }}
	sKafkaSASLTokenFile = setting{name: "kafka-sasl-token-file", env: "LOGSTREAM_KAFKA_SASL_TOKEN_FILE", usage: "file holding the OAUTHBEARER token, read again at every authentication (a rotated token is picked up)",
		parse: func(c *Config, v string) error { c.Kafka.TokenFile = strings.TrimSpace(v); return nil }}
	sKafkaSASLRegion = setting{name: "kafka-sasl-aws-region", env: "LOGSTREAM_KAFKA_SASL_AWS_REGION", usage: "AWS_MSK_IAM: the cluster's region; empty takes AWS_REGION",
		parse: func(c *Config, v string) error { c.Kafka.Region = strings.TrimSpace(v); return nil }}

	sEmbeddedTLSCert = setting{name: "embedded-tls-cert", env: "LOGSTREAM_EMBEDDED_TLS_CERT", usage: "PEM certificate of the embedded broker: with --embedded-tls-key it accepts TLS connections only (clients need --kafka-tls and a CA that signed it)",
		parse: func(c *Config, v string) error { c.EmbeddedTLSCert = strings.TrimSpace(v); return nil }}
	sEmbeddedTLSKey = setting{name: "embedded-tls-key", env: "LOGSTREAM_EMBEDDED_TLS_KEY", usage: "PEM key of the embedded broker's certificate",
		parse: func(c *Config, v string) error { c.EmbeddedTLSKey = strings.TrimSpace(v); return nil }}
	sEmbeddedSASL = setting{name: "embedded-sasl", env: "LOGSTREAM_EMBEDDED_SASL", secret: true,
		usage: "SASL users the embedded broker requires, MECHANISM:user:password,... (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); empty: none",
		parse: func(c *Config, v string) error {
			us, err := broker.ParseEmbeddedUsers(v)
			if err != nil {
				return err
			}
			c.EmbeddedSASL = us
			return nil
		}}

	// kafkaSecuritySettings: every command that connects to Kafka.
	kafkaSecuritySettings = []setting{sKafkaTLS, sKafkaTLSCA, sKafkaTLSCert, sKafkaTLSKey, sKafkaTLSServerName, sKafkaTLSInsecure,
		sKafkaSASLMechanism, sKafkaSASLUsername, sKafkaSASLPassword, sKafkaSASLPasswordFile, sKafkaSASLTokenFile, sKafkaSASLRegion}
	// embeddedSecuritySettings: the commands that can start the embedded broker.
	embeddedSecuritySettings = []setting{sEmbeddedTLSCert, sEmbeddedTLSKey, sEmbeddedSASL}
)

// finishSecurity builds the clients' Security from the settings, once all
// are read: the password file stands in for an empty password.
func finishSecurity(c *Config) error {
	if c.Kafka.Password == "" && c.kafkaPasswordFile != "" {
		b, err := os.ReadFile(c.kafkaPasswordFile)
		if err != nil {
			return fmt.Errorf("kafka-sasl-password-file: %w", err)
		}
		c.Kafka.Password = strings.TrimRight(string(b), "\r\n")
	}
	s, err := broker.NewSecurity(c.Kafka)
	if err != nil {
		return err
	}
	c.security = s
	return nil
}

// connect returns the brokers a client command talks to (--brokers, else
// a local 'logstream run”s embedded broker at --embedded-addr), once it
// has reached them as the settings say: a wrong password, an untrusted
// certificate or nothing listening is one line naming the brokers and how
// they were dialed, within seconds.
func connect(ctx context.Context, cfg *Config) ([]string, error) {
	brokers := cfg.Brokers
	hint := ""
	if len(brokers) == 0 {
		brokers = []string{cfg.EmbeddedAddr}
		hint = " (start 'logstream run' or pass --brokers)"
	}
	if err := broker.Check(ctx, brokers, cfg.security, 15*time.Second); err != nil {
		return nil, fmt.Errorf("%w%s", err, hint)
	}
	return brokers, nil
}

// embeddedConfig is the embedded broker's configuration from the settings.
func embeddedConfig(c *Config) (broker.EmbeddedConfig, error) {
	tc, err := broker.EmbeddedTLS(c.EmbeddedTLSCert, c.EmbeddedTLSKey)
	if err != nil {
		return broker.EmbeddedConfig{}, err
	}
	return broker.EmbeddedConfig{Addr: c.EmbeddedAddr, DataDir: c.EmbeddedData, TLS: tc, Users: c.EmbeddedSASL}, nil
}
