package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign makes the anchor of a chain's head.
func Sign(key ed25519.PrivateKey, chain string, seq int64, hash string, at time.Time) Anchor {
	a := Anchor{Chain: chain, Seq: seq, Hash: hash, Time: at.UTC(), KeyID: KeyID(key.Public().(ed25519.PublicKey))}
	a.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, a.SignedBytes()))
	return a
}

// GenerateKey writes a new anchor key: the private key (PKCS #8 PEM, mode
// 0600) to path and the public key (PKIX PEM) to path + ".pub". It refuses
// to overwrite.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		typ  string
		der  []byte
		mode os.FileMode
	}{{path, "PRIVATE KEY", der, 0o600}, {path + ".pub", "PUBLIC KEY", pubDER, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return nil, fmt.Errorf("audit: anchor key: %w", err)
		}
		if err := pem.Encode(fh, &pem.Block{Type: f.typ, Bytes: f.der}); err != nil {
			fh.Close()
			return nil, err
		}
		if err := fh.Sync(); err != nil {
			fh.Close()
			return nil, err
		}
		if err := fh.Close(); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// LoadSigningKey reads the anchor key. It refuses a key that lies inside
// one of dataDirs (whoever can rewrite the data must not hold the key
// that vouches for it) and, on Unix, a file that others may read.
func LoadSigningKey(path string, dataDirs ...string) (ed25519.PrivateKey, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	for _, d := range dataDirs {
		if d == "" {
			continue
		}
		dabs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if real, err := filepath.EvalSymlinks(dabs); err == nil {
			dabs = real
		}
		if rel, err := filepath.Rel(dabs, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("audit: anchor key %s lies inside the data directory %s: keep it elsewhere (a secrets mount)", path, d)
		}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 && filepath.Separator == '/' {
		return nil, fmt.Errorf("audit: anchor key %s has mode %v: it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: anchor key %s: want a PEM \"PRIVATE KEY\" (PKCS #8 Ed25519; cwadmin audit keygen writes one)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: anchor key %s is %T, want Ed25519", path, k)
	}
	return ek, nil
}

// LoadPublicKey reads a public key (PKIX PEM) for verification. A private
// key file is accepted too, and its public half used.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("audit: public key %s: not PEM", path)
	}
	var k any
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		if priv, ok := k.(ed25519.PrivateKey); ok {
			k = priv.Public()
		}
	default:
		err = errors.New("want PUBLIC KEY or PRIVATE KEY")
	}
	if err != nil {
		return nil, fmt.Errorf("audit: public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: public key %s is %T, want Ed25519", path, k)
	}
	return pub, nil
}
