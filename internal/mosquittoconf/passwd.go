package mosquittoconf

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// Mosquitto's password hash "$7$": PBKDF2-HMAC-SHA512 with the iteration
// count, salt and key lengths mosquitto_passwd 2.0 uses. Writing it here
// spares tests a dependency on the mosquitto_passwd tool.
const (
	passwdIterations = 101
	passwdSaltLen    = 12
	passwdKeyLen     = 64
)

// passwdLine renders one line of a Mosquitto password file.
func passwdLine(user, password string, salt []byte) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, passwdIterations, passwdKeyLen)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding
	return fmt.Sprintf("%s:$7$%d$%s$%s", user, passwdIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// PasswdFile renders a password file for users (name → password), sorted by
// name so the file is stable.
func PasswdFile(users map[string]string) (string, error) {
	names := make([]string, 0, len(users))
	for n := range users {
		if strings.ContainsAny(n, ":\n") {
			return "", fmt.Errorf("mosquitto user %q: ':' and newlines are not allowed", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		salt := make([]byte, passwdSaltLen)
		if _, err := rand.Read(salt); err != nil {
			return "", err
		}
		line, err := passwdLine(n, users[n], salt)
		if err != nil {
			return "", err
		}
		b.WriteString(line + "\n")
	}
	return b.String(), nil
}
