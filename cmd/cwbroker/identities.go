package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/internal/fileutil"
)

// File names of the EMQX output folder.
const (
	emqxUsersFile        = "gateway-users.csv"
	emqxRulesFile        = "gateway-rules.json"
	emqxServiceRulesFile = "service-rules.json"
)

// passwordFlags collects -password user=ENV_VAR.
type passwordFlags map[string]string

func (p passwordFlags) String() string { return "" }

func (p passwordFlags) Set(v string) error {
	user, env, ok := strings.Cut(v, "=")
	if !ok || user == "" || env == "" {
		return fmt.Errorf("want user=ENV_VAR, got %q", v)
	}
	pw, set := os.LookupEnv(env)
	if !set || pw == "" {
		return fmt.Errorf("%s: environment variable %s is not set", user, env)
	}
	p[user] = pw
	return nil
}

func runIdentities(args []string) error {
	fl := flag.NewFlagSet("cwbroker identities", flag.ExitOnError)
	facilities := fl.String("facilities", "/etc/cradlewatch/facilities", "folder of facility files (facility.id and gateways:)")
	format := fl.String("format", "mosquitto", "mosquitto (dynamic-security JSON file) or emqx (a folder with "+emqxUsersFile+", "+emqxRulesFile+" and "+emqxServiceRulesFile+")")
	out := fl.String("out", "", "the file (mosquitto) or folder (emqx) to write; credentials already in it are kept")
	shareGroup := fl.String("share-group", centrebroker.DefaultShareGroup, "the collectors' share_group")
	shards := fl.Int("shards", 1, "the alerting service's shard.count: accounts alerting-0 .. alerting-<shards-1>, each reading its shard's control topics only")
	consoles := fl.Int("consoles", 1, "console (front door) instances: accounts console-0 .. console-<consoles-1>, each reading its own replies only")
	sheet := fl.String("new-passwords", "", "CSV file to create with the passwords of new accounts (username,client_id,facility,password); required when there are new accounts")
	passwords := passwordFlags{}
	fl.Var(passwords, "password", "user=ENV_VAR: set that account's password from the environment (repeatable)")
	_ = fl.Parse(args)
	if *out == "" {
		return errors.New("-out is required")
	}
	reg, err := centrebroker.LoadFacilities(*facilities)
	if err != nil {
		return err
	}
	prevPath := *out
	parse := centrebroker.ParseDynsec
	switch *format {
	case "mosquitto":
	case "emqx":
		prevPath = filepath.Join(*out, emqxUsersFile)
		parse = centrebroker.ParseEMQXUsers
	default:
		return fmt.Errorf("-format %q: want mosquitto or emqx", *format)
	}
	var previous map[string]centrebroker.Credential
	if data, err := os.ReadFile(prevPath); err == nil {
		if previous, err = parse(data); err != nil {
			return fmt.Errorf("%s: %w", prevPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	id, err := centrebroker.Generate(centrebroker.Options{Facilities: reg, ShareGroup: *shareGroup, Previous: previous, Passwords: passwords,
		Shards: *shards, Consoles: *consoles, GatewaysOnly: *format == "emqx"})
	if err != nil {
		return err
	}
	for _, f := range reg {
		if len(f.Gateways) == 0 {
			fmt.Fprintf(os.Stderr, "cwbroker: %s: facility %s lists no gateways: none of its gateways can connect\n", f.File, f.ID)
		}
	}
	if len(id.New) > 0 && *sheet == "" {
		return fmt.Errorf("%d new accounts need passwords: give -new-passwords FILE (or -password user=ENV_VAR)", len(id.New))
	}
	if len(id.New) > 0 {
		if err := writeSheet(*sheet, id.New); err != nil {
			return err
		}
	}
	switch *format {
	case "mosquitto":
		data, err := centrebroker.RenderDynsec(id)
		if err != nil {
			return err
		}
		// Readable by the broker's group (chgrp mosquitto), nobody else.
		if err := fileutil.WriteFileAtomic(*out, data, 0o640); err != nil {
			return err
		}
	case "emqx":
		users, err := centrebroker.RenderEMQXUsers(id)
		if err != nil {
			return err
		}
		rules, err := centrebroker.RenderEMQXRules(id)
		if err != nil {
			return err
		}
		services, err := centrebroker.RenderEMQXServiceRules(*shards, *consoles)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o750); err != nil {
			return err
		}
		if err := fileutil.WriteFileAtomic(filepath.Join(*out, emqxUsersFile), users, 0o600); err != nil {
			return err
		}
		if err := fileutil.WriteFileAtomic(filepath.Join(*out, emqxRulesFile), rules, 0o644); err != nil {
			return err
		}
		if err := fileutil.WriteFileAtomic(filepath.Join(*out, emqxServiceRulesFile), services, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "cwbroker: %d accounts written to %s (%d new", len(id.Accounts), *out, len(id.New))
	if len(id.Dropped) > 0 {
		fmt.Fprintf(os.Stderr, "; removed, their access ends: %s", strings.Join(id.Dropped, " "))
	}
	fmt.Fprintln(os.Stderr, ")")
	return nil
}

// writeSheet creates the installers' sheet; it never overwrites one.
func writeSheet(path string, accounts []centrebroker.NewAccount) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("new passwords: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"username", "client_id", "facility", "password"})
	for _, a := range accounts {
		_ = w.Write([]string{a.Username, a.ClientID, a.Facility, a.Password})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
