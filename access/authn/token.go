package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// API tokens look like "cwt_<id>_<secret>": id is 16 hex digits (64
// random bits, the lookup key, safe to show), secret 43 base64url
// characters (256 random bits). Only SHA-256 of the secret is stored: a
// fast hash is right for a secret this long (nobody can guess 2^256), and
// a stolen table opens nothing.
const tokenPrefix = "cwt_"

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24+): it crashes the program instead of returning weak bytes
	return b
}

// newToken makes a token and returns its ID, the hash to store and the
// full token (shown once to whoever issued it).
func newToken() (id, secretHash, full string) {
	id = hex.EncodeToString(randomBytes(8))
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return id, hashSecret(secret), tokenPrefix + id + "_" + secret
}

// parseToken splits a presented token.
func parseToken(s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", "", false
	}
	return id, secret, true
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretMatches compares a presented secret with a stored hash in
// constant time.
func secretMatches(secret, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(storedHash)) == 1
}
