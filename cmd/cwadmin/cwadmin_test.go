package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
)

type tool struct {
	t      *testing.T
	driver string
	dsn    string
}

func (c tool) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append(append([]string{}, args[:2]...), "-driver", c.driver, "-dsn", c.dsn, "-audit-dir", filepath.Join(c.t.TempDir(), "a"))
	if args[0]+" "+args[1] == "audit verify" {
		full = full[:len(full)-2]
	}
	full = append(full, args[2:]...)
	code := run(context.Background(), full, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// dsnOf opens a fresh database of the engine and returns its DSN.
func dsnOf(t *testing.T, e *storetest.Engine) (string, *store.Store) {
	s := e.Open(t)
	if s.Driver() == store.DriverSQLite {
		var path string
		s.DB().QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path)
		return path, s
	}
	var db string
	s.DB().QueryRow("SELECT current_database()").Scan(&db)
	return e.Postgres().DSN(db), s
}

func TestCwadmin(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Run("accounts and tokens", func(t *testing.T) { testAdmin(t, e) })
			t.Run("verify finds an edited, a deleted and a reordered record", func(t *testing.T) { testVerify(t, e) })
		})
	}
}

func testAdmin(t *testing.T, e *storetest.Engine) {
	dsn, st := dsnOf(t, e)
	c := tool{t: t, driver: e.Name, dsn: dsn}
	if code, out, errs := c.run("a long enough password\n", "account", "create", "-username", "li", "-name", "李科长", "-role", "county", "-region", "110105"); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	if code, _, errs := c.run("another password 123\n", "account", "create", "-username", "bad", "-role", "county", "-region", "110105001"); code == 0 || !strings.Contains(errs, "county") {
		t.Fatalf("county with a street code: %d %s", code, errs)
	}
	if code, _, errs := c.run("short\n", "account", "create", "-username", "weak", "-role", "street", "-region", "110105001"); code == 0 {
		t.Fatalf("short password accepted: %s", errs)
	}
	if code, out, _ := c.run("", "account", "grant", "-username", "li", "-role", "city", "-region", "110100"); code != 0 || !strings.Contains(out, "city 110100") {
		t.Fatalf("grant: %d %s", code, out)
	}
	code, tok, errs := c.run("", "token", "issue", "-name", "grafana", "-role", "county", "-region", "110105", "-actions", "view", "-ttl", "720h")
	if code != 0 || !strings.HasPrefix(tok, "cwt_") || strings.Contains(errs, strings.TrimSpace(tok)) {
		t.Fatalf("issue: %d %q %s", code, tok, errs)
	}
	if code, _, _ := c.run("", "token", "issue", "-name", "x", "-role", "county", "-region", "110105", "-ttl", "9000h"); code == 0 {
		t.Fatal("token beyond the maximum life")
	}
	id := strings.Split(strings.TrimSpace(tok), "_")[1]
	if code, out, _ := c.run("", "token", "revoke", "-id", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if code, out, _ := c.run("", "token", "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "view") {
		t.Fatalf("list: %s", out)
	}
	if code, out, _ := c.run("", "account", "list"); code != 0 || !strings.Contains(out, "li") || !strings.Contains(out, "110100") {
		t.Fatalf("list: %s", out)
	}
	// Every change is in the trail, with the administrator as actor; and it verifies.
	var actions []string
	st.ScanAudit(context.Background(), chainName(), func(r audit.Record) error {
		if !strings.HasPrefix(r.Actor, "service:cwadmin:") {
			t.Errorf("actor %s", r.Actor)
		}
		actions = append(actions, r.Action)
		return nil
	})
	if got := strings.Join(actions, " "); got != "account.create account.role token.issue token.revoke" {
		t.Fatalf("trail: %s", got)
	}
	if code, out, _ := c.run("", "audit", "verify"); code != 0 || !strings.Contains(out, "audit trail verified") {
		t.Fatalf("verify: %d %s", code, out)
	}
}

func testVerify(t *testing.T, e *storetest.Engine) {
	keyDir := t.TempDir()
	keyPath := filepath.Join(keyDir, "anchor.key")
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "keygen", "-out", keyPath}, nil, &out, &out); code != 0 {
		t.Fatalf("keygen: %s", out.String())
	}
	key, err := audit.LoadSigningKey(keyPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, sql []string
		want      string
	}{
		{[]string{"edited"}, []string{`UPDATE audit_records SET actor = 'person:somebody-else' WHERE chain = 'alerting-0' AND seq = 5`}, "alerting-0 #5: edited"},
		{[]string{"deleted"}, []string{`DELETE FROM audit_records WHERE chain = 'alerting-0' AND seq = 5`}, "alerting-0 #5: missing"},
		{[]string{"reordered"}, []string{
			`UPDATE audit_records SET seq = -5 WHERE chain = 'alerting-0' AND seq = 5`,
			`UPDATE audit_records SET seq = 5 WHERE chain = 'alerting-0' AND seq = 6`,
			`UPDATE audit_records SET seq = 6 WHERE chain = 'alerting-0' AND seq = -5`,
		}, "alerting-0 #5: moved"},
	}
	for _, tc := range cases {
		t.Run(tc.name[0], func(t *testing.T) {
			dsn, st := dsnOf(t, e)
			c := tool{t: t, driver: e.Name, dsn: dsn}
			writeChain(t, st, key, 10)
			if code, out, errs := c.run("", "audit", "verify", "-pubkey", keyPath+".pub"); code != 0 {
				t.Fatalf("before tampering: %d %s %s", code, out, errs)
			}
			for _, q := range tc.sql {
				if _, err := st.DB().Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			code, out, _ := c.run("", "audit", "verify", "-pubkey", keyPath+".pub")
			if code != exitFindings || !strings.Contains(out, "first record that does not fit: "+tc.want) {
				t.Fatalf("after tampering: %d\n%s", code, out)
			}
			t.Logf("%s", out)
			// Reviewed and quarantined: reported, but no longer new; nothing deleted.
			if code, out, _ := c.run("", "audit", "verify", "-pubkey", keyPath+".pub", "-quarantine"); code != exitUsage {
				t.Fatalf("quarantine without a reason: %d %s", code, out)
			}
			if code, out, _ := c.run("", "audit", "verify", "-pubkey", keyPath+".pub", "-quarantine", "-reason", "incident 7"); code != 0 {
				t.Fatalf("quarantine: %d %s", code, out)
			}
			code, out, _ = c.run("", "audit", "verify", "-pubkey", keyPath+".pub")
			if code != 0 || !strings.Contains(out, "(quarantined)") {
				t.Fatalf("after quarantine: %d %s", code, out)
			}
		})
	}
	t.Run("an anchor made with another key", func(t *testing.T) {
		dsn, st := dsnOf(t, e)
		writeChain(t, st, key, 3)
		other := filepath.Join(t.TempDir(), "other.key")
		audit.GenerateKey(other)
		c := tool{t: t, driver: e.Name, dsn: dsn}
		if code, out, _ := c.run("", "audit", "verify", "-pubkey", other+".pub"); code != exitFindings || !strings.Contains(out, "anchor") {
			t.Fatalf("%d %s", code, out)
		}
	})
}

func writeChain(t *testing.T, st *store.Store, key []byte, n int) {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	w, err := audit.NewWriter(audit.WriterOptions{Chain: "alerting-0", Dir: t.TempDir(), Sink: st, SigningKey: key,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	op := access.Principal{Kind: access.KindPerson, ID: "acc-1", Name: "wang", Role: access.RoleOperator, Facilities: []string{"fac-a"}}
	for i := 1; i <= n; i++ {
		now = now.Add(time.Minute)
		w.Append(audit.Event{Actor: op, Action: audit.ActionAcknowledge, Facility: "fac-a", Subject: fmt.Sprintf("fp-%d", i)})
	}
	if err := w.Anchor(context.Background()); err != nil {
		t.Fatal(err)
	}
}
