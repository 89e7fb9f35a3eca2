// Package shortlink makes the signed, expiring links that an alert's SMS
// carries, so the duty teacher opens the alert directly:
//
//	https://<console>/a/<token>
//
// The token is base64url (no padding) of
//
//	version (1 byte, 1) | expiry (4 bytes, big-endian Unix seconds) |
//	fingerprint (8 bytes: the alert's 16 hex digits) | facility ID (the rest
//	of the payload) | MAC (8 bytes: HMAC-SHA-256 of everything before it,
//	truncated)
//
// 47 characters for a facility ID of 14, so the whole link stays short
// enough for an SMS template's variable.
//
// A link is not a credential: opening it still needs a login, and the
// console still authorises the person for the facility. The MAC keeps the
// console from serving links nobody issued (no enumeration of facility IDs
// or fingerprints through it) and makes the expiry binding; 64 bits are
// plenty for that. The key is shared by the console (Verify) and the
// alerting service's notification path (Sign); a new key voids every link
// issued under the old one.
package shortlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Sizes of the token's parts.
const (
	version   = 1
	macSize   = 8
	fixedSize = 1 + 4 + 8
	// MinKey is the shortest key accepted (bytes).
	MinKey = 32
	// MaxToken bounds what Verify reads: a 64-character facility ID's
	// token is 108 characters.
	MaxToken = 128
	// DefaultTTL is how long a link opens its alert: an alert that fired
	// at night is looked at the next morning, and a week covers a long
	// weekend.
	DefaultTTL = 7 * 24 * time.Hour
)

// Errors of Verify. Both mean "not a link to follow": the console answers
// the same page to either, without saying which.
var (
	ErrInvalid = errors.New("shortlink: not a valid link")
	ErrExpired = errors.New("shortlink: link expired")
)

// Link is what a token points to.
type Link struct {
	Facility    string
	Fingerprint string // 16 lower-case hex digits
	Expires     time.Time
}

// Signer signs and verifies links with one key.
type Signer struct {
	key []byte
}

// New returns a Signer; the key must have at least MinKey bytes.
func New(key []byte) (*Signer, error) {
	if len(key) < MinKey {
		return nil, fmt.Errorf("shortlink: the key has %d bytes, want at least %d", len(key), MinKey)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(b []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write(b)
	return h.Sum(nil)[:macSize]
}

// Sign returns the token of l (Expires is kept to the second).
func (s *Signer) Sign(l Link) (string, error) {
	if err := model.ValidateID("facility", l.Facility); err != nil {
		return "", fmt.Errorf("shortlink: %w", err)
	}
	fp, err := hex.DecodeString(l.Fingerprint)
	if err != nil || len(fp) != 8 || hex.EncodeToString(fp) != l.Fingerprint {
		return "", fmt.Errorf("shortlink: fingerprint %q is not 16 lower-case hex digits", l.Fingerprint)
	}
	exp := l.Expires.Unix()
	if exp <= 0 || exp > 1<<32-1 {
		return "", fmt.Errorf("shortlink: expiry %v out of range", l.Expires)
	}
	b := make([]byte, 0, fixedSize+len(l.Facility)+macSize)
	b = append(b, version)
	b = binary.BigEndian.AppendUint32(b, uint32(exp))
	b = append(b, fp...)
	b = append(b, l.Facility...)
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Verify checks a token's MAC (in constant time) and expiry at now.
func (s *Signer) Verify(token string, now time.Time) (Link, error) {
	if len(token) > MaxToken {
		return Link{}, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < fixedSize+1+macSize || b[0] != version {
		return Link{}, ErrInvalid
	}
	body, sum := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(sum, s.mac(body)) {
		return Link{}, ErrInvalid
	}
	l := Link{
		Expires:     time.Unix(int64(binary.BigEndian.Uint32(body[1:5])), 0).UTC(),
		Fingerprint: hex.EncodeToString(body[5:13]),
		Facility:    string(body[13:]),
	}
	if model.ValidateID("facility", l.Facility) != nil {
		return Link{}, ErrInvalid // signed by someone with the key, but not by Sign
	}
	if !now.Before(l.Expires) {
		return l, ErrExpired
	}
	return l, nil
}

// Path is the console's path of a token: "/a/<token>". A notification puts
// the console's public base URL before it.
func Path(token string) string { return "/a/" + token }
