package spotcheck

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// Method names the algorithm of this package (docs/console.md, "The draw"):
// a published draw says which one produced it.
const Method = "cradlewatch-spotcheck-v1"

// SeedSize is the seed's length in bytes.
const SeedSize = 32

// Seed is the draw's randomness, published with it as 64 hex digits.
type Seed [SeedSize]byte

// NewSeed reads a seed from r: crypto/rand.Reader for a real draw.
func NewSeed(r io.Reader) (Seed, error) {
	var s Seed
	if _, err := io.ReadFull(r, s[:]); err != nil {
		return Seed{}, fmt.Errorf("spotcheck: seed: %w", err)
	}
	return s, nil
}

// ParseSeed reads 64 hex digits.
func ParseSeed(h string) (Seed, error) {
	var s Seed
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != SeedSize {
		return Seed{}, fmt.Errorf("spotcheck: seed %q: want %d hex digits", h, 2*SeedSize)
	}
	copy(s[:], b)
	return s, nil
}

func (s Seed) String() string { return hex.EncodeToString(s[:]) }

// MarshalText writes the seed as hex.
func (s Seed) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the seed from hex.
func (s *Seed) UnmarshalText(b []byte) error {
	p, err := ParseSeed(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// word is the pseudo-random 64-bit word for label: the first 8 bytes, big
// endian, of HMAC-SHA256 keyed with the seed over Method + "/" + label.
// Every random number of a draw is one of these, named by what it is for,
// so anyone can recompute any one of them with a few lines in any
// language.
func (s Seed) word(label string) uint64 {
	m := hmac.New(sha256.New, s[:])
	m.Write([]byte(Method + "/" + label))
	return binary.BigEndian.Uint64(m.Sum(nil))
}

// facilityUniform is the facility's uniform number in (0, 1): the word of
// "facility/<ID>", its top 53 bits plus one half, over 2^53.
func (s Seed) facilityUniform(id string) float64 {
	return (float64(s.word("facility/"+id)>>11) + 0.5) / (1 << 53)
}

// inspectorStream draws uniform integers for the inspector assignment
// from the words of "inspector/0", "inspector/1", ...
type inspectorStream struct {
	seed Seed
	next uint64
}

// intn is uniform in [0, n): with M = 2^64-1, a word is taken when it is
// below M - (M mod n), a multiple of n, so that word mod n has no bias;
// otherwise it is dropped and the next word read.
func (st *inspectorStream) intn(n int) int {
	limit := ^uint64(0) - ^uint64(0)%uint64(n)
	for {
		w := st.seed.word("inspector/" + strconv.FormatUint(st.next, 10))
		st.next++
		if w < limit {
			return int(w % uint64(n))
		}
	}
}
