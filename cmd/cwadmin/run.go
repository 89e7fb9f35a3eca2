package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/model"
)

// run is the whole tool, testable in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: cwadmin audit verify|keygen | account create|grant|disable|list | token issue|revoke|list  [flags]")
		return exitUsage
	}
	cmd := args[0] + " " + args[1]
	fs := flag.NewFlagSet("cwadmin "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var db dbFlags
	if cmd != "audit keygen" {
		db.register(fs)
	}
	var err error
	switch cmd {
	case "audit verify":
		return verify(ctx, fs, args[2:], &db, stdout, stderr)
	case "audit keygen":
		out := fs.String("out", "", "path of the new private key (its public key goes to <out>.pub); keep it outside every data directory")
		if fs.Parse(args[2:]) != nil || *out == "" {
			return exitUsage
		}
		var pub ed25519.PublicKey
		if pub, err = audit.GenerateKey(*out); err == nil {
			fmt.Fprintf(stdout, "anchor key %s written to %s (public key %s.pub)\n", audit.KeyID(pub), *out, *out)
		}
	case "account create", "account grant", "account disable", "account list", "token issue", "token revoke", "token list":
		return admin(ctx, cmd, fs, args[2:], &db, stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "cwadmin: unknown command %q\n", cmd)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "cwadmin %s: %v\n", cmd, err)
		return exitError
	}
	return exitOK
}

// dbFlags name the access database.
type dbFlags struct {
	driver, dsn, dsnFile string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.driver, "driver", "sqlite", "database engine: sqlite or postgres")
	fs.StringVar(&d.dsn, "dsn", "", "SQLite file path (PostgreSQL: use -dsn-file or $CW_ACCESS_DSN, a URL holds a password)")
	fs.StringVar(&d.dsnFile, "dsn-file", "", "file holding the PostgreSQL URL")
}

func (d *dbFlags) open(ctx context.Context) (*store.Store, error) {
	dsn := d.dsn
	if d.driver == store.DriverPostgres && dsn == "" {
		v, err := secret.Load("dsn", d.dsnFile, "CW_ACCESS_DSN")
		if err != nil {
			return nil, err
		}
		dsn = string(v)
	}
	if dsn == "" {
		return nil, errors.New("no database: -dsn (SQLite file) or -dsn-file / $CW_ACCESS_DSN (PostgreSQL)")
	}
	return store.Open(ctx, store.Options{Driver: d.driver, DSN: dsn})
}

func verify(ctx context.Context, fs *flag.FlagSet, args []string, db *dbFlags, stdout, stderr io.Writer) int {
	var pubs []string
	fs.Func("pubkey", "public key file of an anchor key to trust (repeat for several)", func(v string) error {
		pubs = append(pubs, v)
		return nil
	})
	quarantine := fs.Bool("quarantine", false, "after review: mark the findings as known (records are kept)")
	reason := fs.String("reason", "", "why the findings are quarantined (required with -quarantine)")
	if fs.Parse(args) != nil || (*quarantine && strings.TrimSpace(*reason) == "") {
		fmt.Fprintln(stderr, "cwadmin audit verify: -quarantine needs -reason")
		return exitUsage
	}
	st, err := db.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "cwadmin audit verify: %v\n", err)
		return exitError
	}
	defer st.Close()
	ks := make([]ed25519.PublicKey, 0, len(pubs))
	for _, p := range pubs {
		k, err := audit.LoadPublicKey(p)
		if err != nil {
			fmt.Fprintf(stderr, "cwadmin audit verify: %v\n", err)
			return exitError
		}
		ks = append(ks, k)
	}
	rep, err := audit.Verify(ctx, st, ks)
	if err != nil {
		fmt.Fprintf(stderr, "cwadmin audit verify: %v\n", err)
		return exitError
	}
	for _, c := range rep.Chains {
		state := "ok"
		if len(c.Problems) > 0 {
			state = fmt.Sprintf("%d finding(s)", len(c.Problems))
		}
		anchor := "never anchored"
		if c.LastAnchor > 0 {
			anchor = fmt.Sprintf("anchored up to #%d", c.LastAnchor)
		}
		fmt.Fprintf(stdout, "chain %s: %d records, head #%d, %d anchors, %s: %s\n", c.Chain, c.Records, c.HeadSeq, c.Anchors, anchor, state)
		if len(c.Problems) > 0 {
			fmt.Fprintf(stdout, "  first record that does not fit: %s\n", c.Problems[0])
			for _, p := range c.Problems[1:] {
				fmt.Fprintf(stdout, "  also: %s\n", p)
			}
		}
		if len(ks) == 0 {
			fmt.Fprintf(stdout, "  (no -pubkey: anchors not checked)\n")
		}
	}
	if *quarantine {
		for _, p := range rep.New() {
			q := audit.Quarantine{Chain: p.Chain, Seq: p.Seq, Kind: p.Kind, RecordHash: p.RecordHash, Reason: *reason + " (by " + operatorName() + ")", At: time.Now().UTC()}
			if err := st.Quarantine(ctx, q); err != nil {
				fmt.Fprintf(stderr, "cwadmin audit verify: quarantine: %v\n", err)
				return exitError
			}
			fmt.Fprintf(stdout, "quarantined: %s\n", p)
		}
		return exitOK
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "%d new finding(s)\n", len(rep.New()))
		return exitFindings
	}
	fmt.Fprintln(stdout, "audit trail verified")
	return exitOK
}

func operatorName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// adminActor is who cwadmin acts as: the platform administrator, named by
// the operating-system user who ran it.
func adminActor() access.Principal {
	name := operatorName()
	return access.Principal{Kind: access.KindService, ID: "cwadmin:" + name, Name: name, Role: access.RoleAdmin, Region: model.Nationwide()}
}

func parseGrant(role, region, facilities, actions string) (authn.Grant, error) {
	r, err := access.ParseRole(role)
	if err != nil {
		return authn.Grant{}, err
	}
	g := authn.Grant{Role: r}
	switch {
	case region != "":
		if g.Region, err = model.ParseRegionCode(region); err != nil {
			return authn.Grant{}, err
		}
	case r == access.RoleAdmin || r == access.RoleAuditor:
		g.Region = model.Nationwide()
	}
	for _, f := range strings.Split(facilities, ",") {
		if f = strings.TrimSpace(f); f != "" {
			g.Facilities = append(g.Facilities, f)
		}
	}
	for _, a := range strings.Split(actions, ",") {
		if a = strings.TrimSpace(a); a != "" {
			act, err := access.ParseAction(a)
			if err != nil {
				return authn.Grant{}, err
			}
			g.Actions = append(g.Actions, act)
		}
	}
	return g, nil
}

func defaultAuditDir() string {
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".cradlewatch", "audit")
	}
	return ".cradlewatch-audit"
}
