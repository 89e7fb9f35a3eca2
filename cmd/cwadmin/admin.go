package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
)

func admin(ctx context.Context, cmd string, fs *flag.FlagSet, args []string, db *dbFlags, stdin io.Reader, stdout, stderr io.Writer) int {
	username := fs.String("username", "", "login name")
	name := fs.String("name", "", "display name (account create) or token name (token issue)")
	role := fs.String("role", "", "operator, street, county, city, province, admin or auditor")
	region := fs.String("region", "", "region code of the role (6 or 9 digits); empty for operators, the country for admin and auditor")
	facilities := fs.String("facilities", "", "operators: comma-separated facility IDs")
	actions := fs.String("actions", "", "token issue: comma-separated actions (view, acknowledge, silence); empty: the role's")
	ttl := fs.Duration("ttl", 90*24*time.Hour, "token issue: lifetime")
	id := fs.String("id", "", "token revoke: the token's ID (the 16 hex digits after cwt_)")
	auditDir := fs.String("audit-dir", defaultAuditDir(), "local buffer of cwadmin's audit chain (must persist)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cwadmin %s: %v\n", cmd, err)
		return exitError
	}
	st, err := db.open(ctx)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	actor := adminActor()
	w, err := audit.NewWriter(audit.WriterOptions{Chain: chainName(), Dir: *auditDir, Sink: st})
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := w.Flush(ctx); err != nil {
			fmt.Fprintf(stderr, "cwadmin: audit records left in %s: %v\n", *auditDir, err)
		}
		w.Close()
	}()
	auth, err := authn.New(authn.Options{Store: st, Audit: w})
	if err != nil {
		return fail(err)
	}
	switch cmd {
	case "account create":
		g, err := parseGrant(*role, *region, *facilities, "")
		if err != nil {
			return fail(err)
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return fail(err)
		}
		acc, err := auth.CreateAccount(ctx, actor, *username, *name, pw, g)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "account %s (%s) created: %s\n", acc.Username, acc.ID, describeGrant(g))
	case "account grant", "account disable":
		acc, err := st.AccountByUsername(ctx, *username)
		if err != nil {
			return fail(fmt.Errorf("account %q: %w", *username, err))
		}
		if cmd == "account disable" {
			if err := auth.DisableAccount(ctx, actor, acc.ID); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "account %s disabled, its sessions ended\n", acc.Username)
			break
		}
		g, err := parseGrant(*role, *region, *facilities, "")
		if err != nil {
			return fail(err)
		}
		if err := auth.SetRole(ctx, actor, acc.ID, g); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "account %s is now %s; its sessions ended\n", acc.Username, describeGrant(g))
	case "account list":
		accs, err := st.Accounts(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tROLE\tSCOPE\tLOGIN\tDISABLED")
		for _, a := range accs {
			login := "password"
			if a.OIDCIssuer != "" {
				login = "oidc"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", a.Username, a.DisplayName, a.Role, scope(a.Region.String(), a.Facilities), login, a.Disabled)
		}
		tw.Flush()
	case "token issue":
		g, err := parseGrant(*role, *region, *facilities, *actions)
		if err != nil {
			return fail(err)
		}
		full, tok, err := auth.IssueToken(ctx, actor, *name, g, *ttl)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "token %s (%s) issued: %s, expires %s. It is shown once, now:\n", tok.ID, tok.Name, describeGrant(g), tok.ExpiresAt.Format(time.RFC3339))
		fmt.Fprintln(stdout, full)
	case "token revoke":
		if err := auth.RevokeToken(ctx, actor, *id); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "token %s revoked\n", *id)
	case "token list":
		toks, err := st.Tokens(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tSCOPE\tACTIONS\tEXPIRES\tREVOKED\tLAST USED")
		for _, t := range toks {
			acts := make([]string, len(t.Actions))
			for i, a := range t.Actions {
				acts[i] = string(a)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, scope(t.Region.String(), t.Facilities),
				orAll(strings.Join(acts, ",")), t.ExpiresAt.Format(time.DateOnly), when(t.RevokedAt), when(t.LastUsedAt))
		}
		tw.Flush()
	}
	return exitOK
}

// readPassword takes the first line of stdin, so a password never appears
// in the process list or the shell history.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("give the password on standard input")
	}
	return pw, nil
}

func chainName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "local"
	}
	return "cwadmin-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, h)
}

func describeGrant(g authn.Grant) string {
	s := string(g.Role) + " " + scope(g.Region.String(), g.Facilities)
	if len(g.Actions) > 0 {
		s += fmt.Sprintf(" (actions %v)", g.Actions)
	}
	return s
}

func scope(region string, facilities []string) string {
	switch {
	case len(facilities) > 0:
		return strings.Join(facilities, ",")
	case region == "":
		return "nationwide"
	}
	return region
}

func orAll(s string) string {
	if s == "" {
		return "(role's)"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateTime)
}
