package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// PhoneKeyer pseudonymises phone numbers for stored records (the audit
// trail, notification logs, attempt counters): HMAC-SHA-256 of the
// normalised number under a secret key. Unlike an unsalted hash, which
// anyone can reverse by hashing all ~10^10 mainland numbers, the key
// must be known to link a pseudonym to a number; the same number always
// gives the same pseudonym, so counts and budgets still work.
type PhoneKeyer struct {
	key []byte
}

// MinPhoneKeySecret is the shortest secret accepted (bytes).
const MinPhoneKeySecret = 32

// NewPhoneKeyer makes a keyer from a secret of at least 32 bytes (from a
// file, access/secret; never the repository).
func NewPhoneKeyer(secret []byte) (*PhoneKeyer, error) {
	if len(secret) < MinPhoneKeySecret {
		return nil, errors.New("audit: phone key secret: at least 32 bytes (openssl rand -base64 48)")
	}
	return &PhoneKeyer{key: append([]byte(nil), secret...)}, nil
}

// Key is the pseudonym of a phone number: "pk1:" and 32 hex digits
// (128 bits of the HMAC). "+8613812341234", "008613812341234" and
// "13812341234" give the same key.
func (k *PhoneKeyer) Key(phone string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("cradlewatch-phone\n"))
	m.Write([]byte(NormalizePhone(phone)))
	return "pk1:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// NormalizePhone strips spaces, dashes and the mainland country prefix,
// so one number has one form.
func NormalizePhone(p string) string {
	p = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, p)
	for _, pre := range []string{"+86", "0086", "86"} {
		if strings.HasPrefix(p, pre) && len(p)-len(pre) == 11 {
			return p[len(pre):]
		}
	}
	return p
}

// MaskPhone hides the middle of a number for logs: 138****1234.
func MaskPhone(p string) string {
	p = NormalizePhone(p)
	if len(p) < 7 {
		return "****"
	}
	return p[:3] + "****" + p[len(p)-4:]
}
