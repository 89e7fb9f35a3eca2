package ctlbus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cradlewatch/cradlewatch/model"
)

// MinSecret is the shortest shared secret accepted (bytes).
const MinSecret = 32

// ErrBadMAC is a command whose MAC does not match its content.
var ErrBadMAC = errors.New("ctlbus: command MAC does not match")

// mac is the HMAC-SHA-256 of c's JSON with MAC empty. encoding/json writes
// a struct's fields in declaration order, so the bytes are canonical for a
// given model.Command.
func mac(secret []byte, c model.Command) (string, error) {
	c.MAC = ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("ctlbus: encode command: %w", err)
	}
	h := hmac.New(sha256.New, secret)
	h.Write(b)
	return base64.RawStdEncoding.EncodeToString(h.Sum(nil)), nil
}

// Sign sets c.MAC.
func Sign(secret []byte, c *model.Command) error {
	m, err := mac(secret, *c)
	if err != nil {
		return err
	}
	c.MAC = m
	return nil
}

// Verify checks c.MAC in constant time.
func Verify(secret []byte, c model.Command) error {
	want, err := mac(secret, c)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(c.MAC)) {
		return ErrBadMAC
	}
	return nil
}

func checkSecret(secret []byte) error {
	if len(secret) < MinSecret {
		return fmt.Errorf("ctlbus: the shared secret has %d bytes, want at least %d", len(secret), MinSecret)
	}
	return nil
}
