// Command cwadmin administers CradleWatch's access database and checks its
// audit trail:
//
//	cwadmin audit verify  -pubkey anchor.key.pub [-pubkey old.pub] [-quarantine -reason "ticket 42"]
//	cwadmin audit keygen  -out /etc/cradlewatch/secrets/anchor.key
//	cwadmin account create -username li -name 李科长 -role county -region 110105   (password on stdin)
//	cwadmin account grant  -username li -role city -region 110100
//	cwadmin account disable -username li
//	cwadmin account list
//	cwadmin token issue  -name grafana -role county -region 110105 -actions view -ttl 720h
//	cwadmin token revoke -id 0123456789abcdef
//	cwadmin token list
//
// Every command takes the database as -driver (sqlite, postgres) and -dsn
// (a file path for SQLite; for PostgreSQL put the URL, which holds a
// password, in a file named by -dsn-file or in $CW_ACCESS_DSN, never on
// the command line). Changes are recorded in the audit trail as
// service:cwadmin:<user>.
package main

import (
	"os"

	"github.com/cradlewatch/cradlewatch/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext()
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // verify found records that do not fit
	exitUsage    = 2
	exitError    = 3
)
