package centrebroker

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
)

// The password hash both brokers check: PBKDF2-HMAC-SHA512 with 64-byte
// keys. 101 iterations is what mosquitto_passwd 2.0 writes; generated
// passwords are 32 random characters, so the iteration count adds nothing
// to their strength, and a low one keeps a reconnect storm of thousands of
// gateways after a broker restart cheap. EMQX's authenticator must be set
// to the same parameters (deploy/kubernetes/emqx).
const (
	HashIterations = 101
	hashKeyLen     = 64
	// The salt is 12 bytes: Mosquitto 2.0's dynamic-security plugin
	// accepts no other length. Its bytes are 12 base64 characters of 9
	// random bytes, printable for EMQX.
	saltRandBytes = 9
	passwordBytes = 24 // 32 base64 characters
)

// Credential is a stored password: salt and derived key. The salt is
// printable, so EMQX (which takes the salt as a string) and Mosquitto
// (which takes it base64-encoded) hash the same bytes.
type Credential struct {
	Salt       []byte
	Key        []byte
	Iterations int
}

// NewCredential hashes password with a fresh salt from rand.
func NewCredential(password string, rand io.Reader) (Credential, error) {
	raw := make([]byte, saltRandBytes)
	if _, err := io.ReadFull(rand, raw); err != nil {
		return Credential{}, fmt.Errorf("salt: %w", err)
	}
	salt := []byte(base64.RawURLEncoding.EncodeToString(raw))
	key, err := pbkdf2.Key(sha512.New, password, salt, HashIterations, hashKeyLen)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Salt: salt, Key: key, Iterations: HashIterations}, nil
}

// Matches reports whether password is the one hashed.
func (c Credential) Matches(password string) bool {
	if c.Iterations <= 0 || len(c.Key) == 0 {
		return false
	}
	key, err := pbkdf2.Key(sha512.New, password, c.Salt, c.Iterations, len(c.Key))
	return err == nil && subtle.ConstantTimeCompare(key, c.Key) == 1
}

// NewPassword returns a random password for a new account.
func NewPassword(rand io.Reader) (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
