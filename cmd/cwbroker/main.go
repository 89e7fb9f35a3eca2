// Command cwbroker sets up the centre's MQTT broker: the identities of
// every gateway and service, generated from the facility registry, and the
// watcher that counts what the broker refuses.
//
//	cwbroker identities -facilities /etc/cradlewatch/facilities -shards 3 -consoles 2 \
//	    -out /etc/mosquitto/dynamic-security.json -new-passwords sheet.csv
//	cwbroker identities -format emqx -shards 3 -consoles 2 -facilities DIR -out DIR -new-passwords sheet.csv
//	cwbroker watch -listen 127.0.0.1:9103 -identities /etc/mosquitto/dynamic-security.json \
//	    -- /usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf
//
// docs/deploy.md ("The centre's broker") explains both.
package main

import (
	"fmt"
	"os"

	"github.com/cradlewatch/cradlewatch/internal/cli"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "identities":
		err = runIdentities(os.Args[2:])
	case "watch":
		err = runWatch(os.Args[2:])
	case "version":
		fmt.Println(cli.Version)
	default:
		usage()
	}
	cli.Exit("cwbroker", err, false)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cwbroker identities|watch|version [flags]; cwbroker <command> -h for the flags")
	os.Exit(2)
}
