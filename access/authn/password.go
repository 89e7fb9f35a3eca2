package authn

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// PasswordParams are argon2id's costs. Default: 64 MiB, 3 passes, 2
// lanes (RFC 9106's second recommended option, with the lanes this
// project's 2-core servers have): about 0.1 s per hash there.
type PasswordParams = argon2id.Params

// DefaultPasswordParams are the costs new hashes get.
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// MinPasswordLength is the shortest password accepted (characters).
const MinPasswordLength = 12

// MaxPasswordLength bounds what is hashed, so a huge "password" costs the
// server nothing extra.
const MaxPasswordLength = 256

// ErrWeakPassword rejects a password that is too short or too long.
var ErrWeakPassword = errors.New("password must have 12 to 256 characters")

// HashPassword hashes a new password (PHC string with its parameters, so
// they can be raised later while old hashes still verify).
func HashPassword(password string, p PasswordParams) (string, error) {
	if n := utf8.RuneCountInString(password); n < MinPasswordLength || len(password) > MaxPasswordLength {
		return "", ErrWeakPassword
	}
	h, err := argon2id.CreateHash(password, &p)
	if err != nil {
		return "", fmt.Errorf("authn: hash password: %w", err)
	}
	return h, nil
}

// checkPassword compares in constant time; it reports whether the stored
// hash used weaker parameters than p (to rehash after a good login).
func checkPassword(password, hash string, p PasswordParams) (ok, weaker bool, err error) {
	if len(password) > MaxPasswordLength {
		return false, false, nil
	}
	ok, used, err := argon2id.CheckHash(password, hash)
	if err != nil {
		return false, false, err
	}
	weaker = used.Memory < p.Memory || used.Iterations < p.Iterations || used.KeyLength < p.KeyLength
	return ok, weaker, nil
}
