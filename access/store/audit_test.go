package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/model"
)

var operator = access.Principal{Kind: access.KindPerson, ID: "acc-1", Name: "wang", Role: access.RoleOperator, Facilities: []string{"fac-a"}}

// fillChain writes n acknowledgements to chain through a real Writer and
// anchors the head; it returns the anchor key.
func fillChain(t *testing.T, s *store.Store, chain string, n int, key ed25519.PrivateKey) {
	t.Helper()
	now := t0
	w, err := audit.NewWriter(audit.WriterOptions{Chain: chain, Dir: t.TempDir(), Sink: s, SigningKey: key,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 1; i <= n; i++ {
		now = now.Add(time.Minute)
		if _, err := w.Append(audit.Event{Actor: operator, Action: audit.ActionAcknowledge, Facility: "fac-a", Region: "110105001",
			Subject: fmt.Sprintf("alert-%d", i), Detail: map[string]any{"via": "console", "i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Anchor(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func exec(t *testing.T, s *store.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.DB().Exec(sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// testAuditTampering edits, deletes and reorders records with SQL, as
// someone with write access to the database would, and checks that Verify
// names the first record that does not fit.
func testAuditTampering(t *testing.T, e *storetest.Engine, _ *store.Store) {
	pub, priv := newKey(t)
	cases := []struct {
		name    string
		tamper  func(t *testing.T, s *store.Store)
		wantSeq int64
		want    audit.ProblemKind
	}{
		{"untouched", func(*testing.T, *store.Store) {}, 0, ""},
		{"an edited record", func(t *testing.T, s *store.Store) {
			exec(t, s, `UPDATE audit_records SET actor = 'person:acc-9' WHERE chain = 'console-1' AND seq = 5`)
		}, 5, audit.ProblemEdited},
		{"an edited detail", func(t *testing.T, s *store.Store) {
			exec(t, s, `UPDATE audit_records SET detail = '{"i":5,"via":"sms"}' WHERE chain = 'console-1' AND seq = 5`)
		}, 5, audit.ProblemEdited},
		{"a deleted record", func(t *testing.T, s *store.Store) {
			exec(t, s, `DELETE FROM audit_records WHERE chain = 'console-1' AND seq = 5`)
		}, 5, audit.ProblemMissing},
		{"a reordered pair", func(t *testing.T, s *store.Store) {
			exec(t, s, `UPDATE audit_records SET seq = -1 WHERE chain = 'console-1' AND seq = 5`)
			exec(t, s, `UPDATE audit_records SET seq = 5 WHERE chain = 'console-1' AND seq = 6`)
			exec(t, s, `UPDATE audit_records SET seq = 6 WHERE chain = 'console-1' AND seq = -1`)
		}, 5, audit.ProblemMoved},
		{"a record rewritten with a recomputed hash", func(t *testing.T, s *store.Store) {
			rewrite(t, s, 5, false)
		}, 6, audit.ProblemBrokenLink},
		{"the tail rewritten with recomputed hashes: the anchor holds", func(t *testing.T, s *store.Store) {
			rewrite(t, s, 5, true)
		}, 12, audit.ProblemAnchor},
		{"the tail cut off before the anchor", func(t *testing.T, s *store.Store) {
			exec(t, s, `DELETE FROM audit_records WHERE chain = 'console-1' AND seq >= 10`)
		}, 12, audit.ProblemTruncated},
		{"a forged anchor", func(t *testing.T, s *store.Store) {
			_, other := newKey(t)
			head, _, _ := s.AuditHead(context.Background(), "console-1")
			exec(t, s, `DELETE FROM audit_anchors WHERE chain = 'console-1'`)
			if err := s.InsertAnchor(context.Background(), audit.Sign(other, "console-1", head.Seq, head.Hash, t0)); err != nil {
				t.Fatal(err)
			}
		}, 12, audit.ProblemAnchor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.Open(t)
			fillChain(t, s, "console-1", 12, priv)
			fillChain(t, s, "alerting-0", 3, priv) // another chain, untouched
			c.tamper(t, s)
			rep, err := audit.Verify(context.Background(), s, []ed25519.PublicKey{pub})
			if err != nil {
				t.Fatal(err)
			}
			ps := rep.Problems()
			if c.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems in an untouched trail: %v", ps)
				}
				return
			}
			if len(ps) == 0 {
				t.Fatal("tampering not found")
			}
			if ps[0].Chain != "console-1" || ps[0].Seq != c.wantSeq || ps[0].Kind != c.want {
				t.Fatalf("first problem %v, want %s #%d", ps[0], c.want, c.wantSeq)
			}
			t.Logf("found: %v", ps)
		})
	}
}

// rewrite changes record seq's detail and gives it a correct hash, as a
// forger who knows the format would; with tail, every later record is
// re-linked and re-hashed too, so only the anchor can tell.
func rewrite(t *testing.T, s *store.Store, seq int64, tail bool) {
	t.Helper()
	ctx := context.Background()
	var recs []audit.Record
	s.ScanAudit(ctx, "console-1", func(r audit.Record) error { recs = append(recs, r); return nil })
	prev := recs[seq-2].Hash
	for i := seq - 1; i < int64(len(recs)); i++ {
		r := recs[i]
		if r.Seq == seq {
			r.Detail = `{"i":5,"via":"forged"}`
		}
		r.Prev = prev
		r.Hash = r.ComputeHash()
		exec(t, s, `UPDATE audit_records SET detail = $1, prev_hash = $2, hash = $3 WHERE chain = 'console-1' AND seq = $4`, r.Detail, r.Prev, r.Hash, r.Seq)
		prev = r.Hash
		if !tail {
			return
		}
	}
}

func testAuditQuarantine(t *testing.T, _ *storetest.Engine, s *store.Store) {
	ctx := context.Background()
	pub, priv := newKey(t)
	fillChain(t, s, "console-1", 8, priv)
	exec(t, s, `UPDATE audit_records SET subject = 'x' WHERE chain = 'console-1' AND seq = 3`)
	rep, _ := audit.Verify(ctx, s, []ed25519.PublicKey{pub})
	if rep.OK() || len(rep.New()) != 1 {
		t.Fatalf("report %v", rep.Problems())
	}
	p := rep.New()[0]
	if err := s.Quarantine(ctx, audit.Quarantine{Chain: p.Chain, Seq: p.Seq, Kind: p.Kind, RecordHash: p.RecordHash, Reason: "ticket 42", At: t0}); err != nil {
		t.Fatal(err)
	}
	rep, _ = audit.Verify(ctx, s, []ed25519.PublicKey{pub})
	if !rep.OK() || len(rep.Problems()) != 1 || !rep.Problems()[0].Quarantined {
		t.Fatalf("after quarantine %v", rep.Problems())
	}
	// The quarantined record keeps its place: the records after it still verify.
	var n int
	s.ScanAudit(ctx, "console-1", func(audit.Record) error { n++; return nil })
	if n != 8 {
		t.Fatalf("%d records after quarantine", n)
	}
	// A later change of the quarantined record is a new finding.
	exec(t, s, `UPDATE audit_records SET hash = 'ff' WHERE chain = 'console-1' AND seq = 3`)
	rep, _ = audit.Verify(ctx, s, []ed25519.PublicKey{pub})
	if rep.OK() {
		t.Fatal("a further edit hid behind the quarantine")
	}
	qs, _ := s.Quarantined(ctx)
	if len(qs) != 1 || qs[0].Reason != "ticket 42" {
		t.Fatalf("%+v", qs)
	}
}

// testWriterOutage stops PostgreSQL under a writer: appends go on, and
// everything is stored, in order and verifiable, once it is back.
func testWriterOutage(t *testing.T, e *storetest.Engine, s *store.Store) {
	pg := e.Postgres()
	if pg == nil {
		t.Skip("an outage of SQLite is a disk failure, not a server going away")
	}
	ctx := context.Background()
	pub, priv := newKey(t)
	county := access.Principal{Kind: access.KindPerson, ID: "acc-2", Name: "li", Role: access.RoleCounty, Region: model.MustRegionCode("110105")}
	w, err := audit.NewWriter(audit.WriterOptions{Chain: "alerting-0", Dir: t.TempDir(), Sink: s, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev := audit.Event{Actor: county, Action: audit.ActionSilenceAdd, Facility: "fac-a", Detail: map[string]string{"reason": "装修"}}
	for range 3 {
		w.Append(ev)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	for range 5 {
		if _, err := w.Append(ev); err != nil {
			t.Fatalf("append while PostgreSQL is down: %v", err)
		}
	}
	if err := w.Flush(ctx); err == nil {
		t.Fatal("flush succeeded with PostgreSQL down")
	}
	pg.Start()
	if err := w.Anchor(ctx); err != nil {
		t.Fatalf("after PostgreSQL came back: %v", err)
	}
	rep, err := audit.Verify(ctx, s, []ed25519.PublicKey{pub})
	if err != nil || !rep.OK() || rep.Chains[0].Records != 8 || rep.Chains[0].LastAnchor != 8 {
		t.Fatalf("%v %+v", err, rep)
	}
}
