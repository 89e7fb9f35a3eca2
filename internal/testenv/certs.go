package testenv

import (
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/testcerts"
)

// CertFiles are PEM files of a throwaway CA, a server certificate for
// 127.0.0.1 and a client certificate, for TLS tests.
type CertFiles = testcerts.Files

// Certs writes a CA and certificates signed by it into t's temporary
// directory. Validity brackets the wall clock, which the broker checks.
func Certs(t testing.TB, clientName string) CertFiles {
	t.Helper()
	files, err := testcerts.Write(t.TempDir(), clientName)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
