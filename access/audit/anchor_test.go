package audit

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnchorKeyLivesOutsideTheDataDirectory(t *testing.T) {
	data := t.TempDir()
	secrets := t.TempDir()
	pub, err := GenerateKey(filepath.Join(secrets, "anchor.key"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadSigningKey(filepath.Join(secrets, "anchor.key"), data)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("loaded another key")
	}
	for _, p := range []string{filepath.Join(secrets, "anchor.key.pub"), filepath.Join(secrets, "anchor.key")} {
		k, err := LoadPublicKey(p)
		if err != nil || !k.Equal(pub) {
			t.Fatalf("public key from %s: %v", p, err)
		}
	}
	if _, err := GenerateKey(filepath.Join(secrets, "anchor.key")); err == nil {
		t.Fatal("overwrote a key")
	}

	inside := filepath.Join(data, "keys", "anchor.key")
	os.MkdirAll(filepath.Dir(inside), 0o700)
	if _, err := GenerateKey(inside); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(inside, data); err == nil || !strings.Contains(err.Error(), "inside the data directory") {
		t.Fatalf("key inside the data dir: %v", err)
	}
	// A symlink from outside into the data directory is inside too.
	link := filepath.Join(secrets, "link.key")
	os.Symlink(inside, link)
	if _, err := LoadSigningKey(link, data); err == nil {
		t.Fatal("symlinked key inside the data dir accepted")
	}
	// A sibling directory whose name starts like the data dir is outside.
	sib := data + "-keys"
	os.MkdirAll(sib, 0o700)
	t.Cleanup(func() { os.RemoveAll(sib) })
	if _, err := GenerateKey(filepath.Join(sib, "a.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(filepath.Join(sib, "a.key"), data); err != nil {
		t.Fatalf("sibling dir: %v", err)
	}

	os.Chmod(filepath.Join(secrets, "anchor.key"), 0o644)
	if _, err := LoadSigningKey(filepath.Join(secrets, "anchor.key"), data); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.WriteFile(filepath.Join(secrets, "junk.key"), []byte("change-me"), 0o600)
	if _, err := LoadSigningKey(filepath.Join(secrets, "junk.key")); err == nil {
		t.Fatal("junk key accepted")
	}
}

func TestAnchorSignatures(t *testing.T) {
	dir := t.TempDir()
	GenerateKey(filepath.Join(dir, "k"))
	priv, _ := LoadSigningKey(filepath.Join(dir, "k"))
	GenerateKey(filepath.Join(dir, "other"))
	other, _ := LoadSigningKey(filepath.Join(dir, "other"))
	pub := priv.Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{KeyID(pub): pub}
	a := Sign(priv, "console-1", 7, "abc", t0)
	if err := checkSignature(a, keys); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Anchor){
		"seq":       func(a *Anchor) { a.Seq = 8 },
		"hash":      func(a *Anchor) { a.Hash = "abd" },
		"chain":     func(a *Anchor) { a.Chain = "console-2" },
		"time":      func(a *Anchor) { a.Time = a.Time.Add(1) },
		"signature": func(a *Anchor) { a.Signature = "AAAA" + a.Signature[4:] },
		"other key": func(a *Anchor) { *a = Sign(other, "console-1", 7, "abc", t0) },
		"unsigned":  func(a *Anchor) { a.Signature = "" },
	} {
		b := a
		mut(&b)
		if checkSignature(b, keys) == nil {
			t.Errorf("%s: forged anchor verified", name)
		}
	}
}

func TestRecordHashIsUnambiguous(t *testing.T) {
	a := Record{Chain: "c", Seq: 1, Time: t0, Actor: "person:ab", ActorName: "c"}
	b := Record{Chain: "c", Seq: 1, Time: t0, Actor: "person:a", ActorName: "bc"}
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatal("field boundary not in the hash")
	}
	if Genesis("a") == Genesis("b") {
		t.Fatal("genesis does not depend on the chain")
	}
}

func TestPhoneKey(t *testing.T) {
	if _, err := NewPhoneKeyer([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
	k1, _ := NewPhoneKeyer([]byte(strings.Repeat("s", 32)))
	k2, _ := NewPhoneKeyer([]byte(strings.Repeat("t", 32)))
	a := k1.Key("13812341234")
	for _, same := range []string{"+8613812341234", "008613812341234", "8613812341234", "138 1234 1234", "138-1234-1234"} {
		if k1.Key(same) != a {
			t.Errorf("%s gives another key", same)
		}
	}
	if k1.Key("13812341235") == a || k2.Key("13812341234") == a {
		t.Fatal("keys collide across numbers or secrets")
	}
	if !strings.HasPrefix(a, "pk1:") || len(a) != 4+32 || strings.Contains(a, "1381234") {
		t.Fatalf("key %s", a)
	}
	if MaskPhone("+8613812341234") != "138****1234" || MaskPhone("12") != "****" {
		t.Fatal(MaskPhone("+8613812341234"))
	}
}
