package mosquittoconf

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestPasswdLine checks the hash against a line mosquitto_passwd 2.0.11 wrote
// for user f1, password "secret".
func TestPasswdLine(t *testing.T) {
	const want = "f1:$7$101$2nlksao+zq8GNaim$0hcE4M3fQ1Jnw7B1qChw0SseR22eltXGLn6yEEghJ0EkiTIl6r6/rAVn8h5tpwmb3Pqc4RngXqrkYSChPBQDDA=="
	salt, err := base64.StdEncoding.DecodeString("2nlksao+zq8GNaim")
	if err != nil {
		t.Fatal(err)
	}
	got, err := passwdLine("f1", "secret", salt)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPasswdFile(t *testing.T) {
	tests := []struct {
		users   map[string]string
		prefix  []string
		wantErr bool
	}{
		{users: map[string]string{"b": "x", "a": "y"}, prefix: []string{"a:$7$101$", "b:$7$101$"}},
		{users: map[string]string{"a:b": "x"}, wantErr: true},
		{users: map[string]string{}, prefix: nil},
	}
	for _, tt := range tests {
		got, err := PasswdFile(tt.users)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%v: err = %v", tt.users, err)
		}
		if err != nil {
			continue
		}
		lines := strings.Fields(got)
		if len(lines) != len(tt.prefix) {
			t.Fatalf("%v: got %d lines, want %d", tt.users, len(lines), len(tt.prefix))
		}
		for i, p := range tt.prefix {
			if !strings.HasPrefix(lines[i], p) {
				t.Errorf("line %d = %s, want prefix %s", i, lines[i], p)
			}
		}
	}
}
