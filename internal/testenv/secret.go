package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// SecretFile writes n random bytes, hex-encoded, to dir/name, readable by
// its owner only, as the services' *_file secrets are kept, and returns
// the path.
func SecretFile(t testing.TB, dir, name string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
