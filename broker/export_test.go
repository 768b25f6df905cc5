package broker

import "context"

// HashPartitioner is hashPartitioner for the external tests, which may
// import the packages above broker.
var HashPartitioner = hashPartitioner

// SaramaToken is the token sarama's OAUTHBEARER provider would send.
func SaramaToken(s *Security) (string, error) {
	t, err := tokenProvider{s}.Token()
	if err != nil {
		return "", err
	}
	return t.Token, nil
}

// KgoFirstMessage is the first SASL message franz-go would send.
func KgoFirstMessage(s *Security) (string, error) {
	_, first, err := s.mechanism().Authenticate(context.Background(), "127.0.0.1:9092")
	return string(first), err
}
