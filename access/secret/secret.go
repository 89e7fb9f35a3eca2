// Package secret reads secrets (passwords, HMAC keys, provider callback
// secrets) from files or the environment and refuses placeholders, so a
// service never starts with "change-me" or an empty key. Secrets never
// belong in the repository or in a configuration file that is committed:
// a configuration names the file (key "..._file"), mounted from a secret
// store (systemd LoadCredential, a Kubernetes Secret).
package secret

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// MinLength is the shortest secret accepted (bytes).
const MinLength = 16

// placeholders are refused whatever their case and separators, anywhere in
// the value; they are long enough that a random secret never holds one by
// chance. Short words are refused only as the whole value.
var (
	placeholders = []string{"changeme", "replaceme", "placeholder", "password", "example", "default", "secret"}
	shortWords   = []string{"todo", "test", "xxx", "key", "none", "null"}
)

// Check refuses a secret that is empty, shorter than MinLength, or a
// placeholder ("change-me", "CHANGE_ME", "<secret>", "xxxxxxxx...").
// key names the configuration key in the error.
func Check(key string, value []byte) error {
	v := strings.TrimSpace(string(value))
	if v == "" {
		return config.Errorf(key, "empty secret")
	}
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "", "<", "", ">", "", "$", "", "{", "", "}", "").Replace(v))
	for _, p := range placeholders {
		if strings.Contains(norm, p) {
			return config.Errorf(key, "placeholder secret (contains %q): generate one, e.g. openssl rand -base64 48", p)
		}
	}
	for _, p := range shortWords {
		if norm == p {
			return config.Errorf(key, "placeholder secret %q", v)
		}
	}
	if len(bytes.TrimSpace(value)) < MinLength {
		return config.Errorf(key, "secret shorter than %d bytes", MinLength)
	}
	if allSame(v) {
		return config.Errorf(key, "secret is one repeated character")
	}
	return nil
}

func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// Load returns the secret of a configuration key: the contents of file
// when it is set (trailing newline removed), else the environment variable
// env. It refuses placeholders (Check), a file others may read, and a
// key that has neither.
func Load(key, file, env string) ([]byte, error) {
	var v []byte
	switch {
	case file != "":
		st, err := os.Stat(file)
		if err != nil {
			return nil, config.Errorf(key, "secret file: %v", err)
		}
		if st.Mode().Perm()&0o007 != 0 {
			return nil, config.Errorf(key, "secret file %s is readable by others (mode %v): chmod o-rwx", file, st.Mode().Perm())
		}
		if v, err = os.ReadFile(file); err != nil {
			return nil, config.Errorf(key, "secret file: %v", err)
		}
		v = bytes.TrimRight(v, "\r\n")
	case env != "" && os.Getenv(env) != "":
		v = []byte(os.Getenv(env))
	default:
		return nil, config.Errorf(key, "no secret: set %s (a file readable by the service only)%s", strings.TrimSuffix(key, "_file")+"_file", envHint(env))
	}
	if err := Check(key, v); err != nil {
		return nil, err
	}
	return v, nil
}

func envHint(env string) string {
	if env == "" {
		return ""
	}
	return fmt.Sprintf(" or the environment variable %s", env)
}
