package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
)

// ProblemKind names what is wrong with a record or anchor.
type ProblemKind string

// Problems Verify finds.
const (
	// ProblemEdited: the record's content does not give its stored hash.
	ProblemEdited ProblemKind = "edited"
	// ProblemMoved: the record's content belongs at another place of the
	// chain (a reordered pair: its hash fits another sequence number).
	ProblemMoved ProblemKind = "moved"
	// ProblemMissing: sequence numbers jump; records were deleted.
	ProblemMissing ProblemKind = "missing"
	// ProblemBrokenLink: the record does not carry the hash of the one
	// before it (that one was rewritten with a new hash, or records were
	// removed and renumbered).
	ProblemBrokenLink ProblemKind = "broken_link"
	// ProblemAnchor: an anchor's signature is invalid or made with an
	// unknown key, or the record it signed is not there with its hash.
	ProblemAnchor ProblemKind = "anchor"
	// ProblemTruncated: the chain ends before its last anchor.
	ProblemTruncated ProblemKind = "truncated"
)

// Problem is one finding.
type Problem struct {
	Chain       string
	Seq         int64
	Kind        ProblemKind
	Detail      string
	RecordHash  string // the stored hash of the record found at Seq, if any
	Quarantined bool   // known and quarantined (still reported)
}

func (p Problem) String() string {
	q := ""
	if p.Quarantined {
		q = " (quarantined)"
	}
	return fmt.Sprintf("%s #%d: %s: %s%s", p.Chain, p.Seq, p.Kind, p.Detail, q)
}

// ChainReport is what Verify found in one chain.
type ChainReport struct {
	Chain      string
	Records    int64
	HeadSeq    int64
	HeadHash   string
	Anchors    int
	LastAnchor int64 // sequence number of the last good anchor, 0 if none
	Problems   []Problem
}

// Report is the result of Verify.
type Report struct {
	Chains []ChainReport
}

// Problems lists every finding, chain by chain, each chain's in order.
func (r Report) Problems() []Problem {
	var out []Problem
	for _, c := range r.Chains {
		out = append(out, c.Problems...)
	}
	return out
}

// New lists the findings that are not quarantined.
func (r Report) New() []Problem {
	var out []Problem
	for _, p := range r.Problems() {
		if !p.Quarantined {
			out = append(out, p)
		}
	}
	return out
}

// OK reports a trail without new findings.
func (r Report) OK() bool { return len(r.New()) == 0 }

// Verify checks every chain of src: each record's hash, its link to the
// one before, the sequence without gaps, and every anchor's signature
// against keys and against the record it signed. It does not stop at the
// first finding: after one, it continues from the record as stored, so
// one edited record yields one finding and the records after it are still
// checked. Findings quarantined earlier (same place, kind and record hash)
// are marked Quarantined.
func Verify(ctx context.Context, src Source, keys []ed25519.PublicKey) (Report, error) {
	byID := map[string]ed25519.PublicKey{}
	for _, k := range keys {
		byID[KeyID(k)] = k
	}
	quarantined := map[string]string{}
	qs, err := src.Quarantined(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	for _, q := range qs {
		quarantined[qkey(q.Chain, q.Seq, q.Kind)] = q.RecordHash
	}
	chains, err := src.AuditChains(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	var rep Report
	for _, chain := range chains {
		cr, err := verifyChain(ctx, src, chain, byID)
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify %s: %w", chain, err)
		}
		for i, p := range cr.Problems {
			if h, ok := quarantined[qkey(p.Chain, p.Seq, p.Kind)]; ok && h == p.RecordHash {
				cr.Problems[i].Quarantined = true
			}
		}
		rep.Chains = append(rep.Chains, cr)
	}
	return rep, nil
}

func qkey(chain string, seq int64, kind ProblemKind) string {
	return fmt.Sprintf("%s\x00%d\x00%s", chain, seq, kind)
}

func verifyChain(ctx context.Context, src Source, chain string, keys map[string]ed25519.PublicKey) (ChainReport, error) {
	cr := ChainReport{Chain: chain}
	anchors, err := src.Anchors(ctx, chain)
	if err != nil {
		return cr, err
	}
	cr.Anchors = len(anchors)
	pending := map[int64][]Anchor{}
	for _, a := range anchors {
		if err := checkSignature(a, keys); err != nil {
			cr.Problems = append(cr.Problems, Problem{Chain: chain, Seq: a.Seq, Kind: ProblemAnchor, Detail: err.Error()})
			continue
		}
		pending[a.Seq] = append(pending[a.Seq], a)
	}
	add := func(r Record, kind ProblemKind, format string, args ...any) {
		cr.Problems = append(cr.Problems, Problem{Chain: chain, Seq: r.Seq, Kind: kind, Detail: fmt.Sprintf(format, args...), RecordHash: r.Hash})
	}
	wantSeq, wantPrev := int64(1), Genesis(chain)
	err = src.ScanAudit(ctx, chain, func(r Record) error {
		cr.Records++
		switch computed := r.ComputeHash(); {
		case r.Seq < wantSeq:
			add(r, ProblemMoved, "sequence number %d after %d", r.Seq, wantSeq-1)
		case computed != r.Hash:
			if at, ok := belongsAt(r); ok {
				add(r, ProblemMoved, "its content belongs at #%d (a reordered record)", at)
			} else {
				add(r, ProblemEdited, "its content does not give its stored hash %.16s… (computed %.16s…)", r.Hash, computed)
			}
		case r.Seq > wantSeq:
			missing := Record{Seq: wantSeq}
			if r.Seq-wantSeq == 1 {
				add(missing, ProblemMissing, "record #%d is missing (deleted)", wantSeq)
			} else {
				add(missing, ProblemMissing, "records #%d to #%d are missing (deleted)", wantSeq, r.Seq-1)
			}
		case r.Prev != wantPrev:
			add(r, ProblemBrokenLink, "it does not carry the hash of #%d: that record was rewritten, or records before it were removed", r.Seq-1)
		}
		for _, a := range pending[r.Seq] {
			if a.Hash != r.Hash || r.ComputeHash() != r.Hash {
				add(r, ProblemAnchor, "the anchor of %s signed hash %.16s…, the record has %.16s…", a.Time.Format("2006-01-02T15:04:05Z07:00"), a.Hash, r.Hash)
			} else if r.Seq > cr.LastAnchor {
				cr.LastAnchor = r.Seq
			}
		}
		delete(pending, r.Seq)
		cr.HeadSeq, cr.HeadHash = r.Seq, r.Hash
		if r.Seq >= wantSeq {
			wantSeq = r.Seq + 1
		}
		wantPrev = r.Hash
		return nil
	})
	if err != nil {
		return cr, err
	}
	for seq, as := range pending {
		for range as {
			kind, detail := ProblemAnchor, fmt.Sprintf("record #%d signed by an anchor is not in the chain", seq)
			if seq > cr.HeadSeq {
				kind, detail = ProblemTruncated, fmt.Sprintf("the chain ends at #%d but an anchor signed #%d: records were removed from its end", cr.HeadSeq, seq)
			}
			cr.Problems = append(cr.Problems, Problem{Chain: chain, Seq: seq, Kind: kind, Detail: detail})
		}
	}
	return cr, nil
}

// belongsAt finds whether r's content would be a valid record at a nearby
// sequence number: the signature of a reordered pair.
func belongsAt(r Record) (int64, bool) {
	for _, d := range []int64{-1, 1, -2, 2} {
		moved := r
		moved.Seq += d
		if moved.Seq > 0 && moved.ComputeHash() == r.Hash {
			return moved.Seq, true
		}
	}
	return 0, false
}

func checkSignature(a Anchor, keys map[string]ed25519.PublicKey) error {
	k, ok := keys[a.KeyID]
	if !ok {
		known := make([]string, 0, len(keys))
		for id := range keys {
			known = append(known, id)
		}
		return fmt.Errorf("anchor signed with key %s, not one of the trusted keys [%s]", a.KeyID, strings.Join(known, " "))
	}
	sig, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil || !ed25519.Verify(k, a.SignedBytes(), sig) {
		return fmt.Errorf("anchor signature does not verify with key %s", a.KeyID)
	}
	return nil
}
