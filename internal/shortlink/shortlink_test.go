package shortlink

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestSignVerify(t *testing.T) {
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	l := Link{Facility: "110105001-0001", Fingerprint: "0123456789abcdef", Expires: now.Add(DefaultTTL)}
	tok, err := s.Sign(l)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 47 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q (%d characters): want 47 URL-safe characters", tok, len(tok))
	}
	got, err := s.Verify(tok, now)
	if err != nil || got != l {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, l)
	}
	if _, err := s.Verify(tok, l.Expires); !errors.Is(err, ErrExpired) {
		t.Errorf("at its expiry: %v, want ErrExpired", err)
	}
	t.Logf("link: https://console.example.gov.cn%s", Path(tok))
}

func TestForgeriesAreInvalid(t *testing.T) {
	s, _ := New(key)
	other, _ := New([]byte("ffffffffffffffffffffffffffffffff"))
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	l := Link{Facility: "110105001-0001", Fingerprint: "0123456789abcdef", Expires: now.Add(time.Hour)}
	tok, _ := s.Sign(l)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	forged, _ := other.Sign(l)
	longer := l
	longer.Expires = now.Add(365 * 24 * time.Hour)
	cases := map[string]string{
		"empty": "", "garbage": "not-a-token", "padding": tok + "==", "other key": forged,
		"expiry changed": flip(2), "fingerprint changed": flip(7), "facility changed": flip(15), "mac changed": flip(len(raw) - 1),
		"truncated": tok[:len(tok)-3], "too long": strings.Repeat("A", MaxToken+1),
		"other facility": strings.Replace(tok, tok[20:24], "AAAA", 1),
	}
	for name, c := range cases {
		if _, err := s.Verify(c, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := New(key[:31]); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	for _, bad := range []Link{
		{Facility: "a/b", Fingerprint: "0123456789abcdef", Expires: now},
		{Facility: "f", Fingerprint: "0123456789ABCDEF", Expires: now},
		{Facility: "f", Fingerprint: "0123", Expires: now},
		{Facility: "f", Fingerprint: "0123456789abcdef"},
	} {
		if _, err := s.Sign(bad); err == nil {
			t.Errorf("Sign(%+v) accepted", bad)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := New(key)
	tok, _ := s.Sign(Link{Facility: "110105001-0001", Fingerprint: "0123456789abcdef", Expires: time.Unix(2e9, 0)})
	f.Add(tok)
	f.Add("AQAAAAA")
	f.Fuzz(func(t *testing.T, in string) {
		l, err := s.Verify(in, time.Unix(1e9, 0))
		if err == nil {
			again, serr := s.Sign(l)
			if serr != nil || again != in {
				t.Fatalf("verified %q but it re-signs as %q (%v)", in, again, serr)
			}
		}
	})
}
