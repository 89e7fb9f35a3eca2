package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// The power-cut test build from another process, as a chaos suite uses it:
// build cmd/gateway with -tags cwpowercut, run it on its embedded broker,
// let a sensor publish, send SIGUSR2 (cut during the next fsync), and open
// the spool the process left: it opens cleanly with its torn tail
// repaired, and holds every reading the broker acknowledged.
func TestPowerCutBuildFromAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds the gateway with -tags cwpowercut")
	}
	goBin := goTool(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway-powercut")
	if out, err := exec.Command(goBin, "build", "-tags", "cwpowercut", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build with -tags cwpowercut: %v\n%s", err, out)
	}
	centre, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer centre.Close()
	fac := filepath.Join(dir, "facility.yaml")
	os.WriteFile(fac, []byte(`facility: {id: "110105001-0001", name: 测试园, region: "110105001", timezone: Asia/Shanghai}
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices: [{id: th-1, room: r1, source: zigbee2mqtt, address: th-1, kinds: [temperature]}]
`), 0o600)
	local := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	spoolDir := filepath.Join(dir, "spool")
	conf := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`gateway_id: gw-1
facility_file: %s
local: {embedded: {enabled: true, listen: %q}}
uplink: {mqtt: {broker: %s, username: "110105001-0001"}}
spool: {dir: %s, commit_interval: 20ms}
sources: [{family: zigbee2mqtt}]
http: {listen: ""}
`, fac, local, centre.Addr(), spoolDir)), 0o600)
	cmd := exec.Command(bin, "-config", conf)
	cmd.Env = append(os.Environ(), "CW_POWERCUT_SEED=7")
	logf, _ := os.Create(filepath.Join(dir, "gateway.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	defer func() {
		cmd.Process.Kill()
		<-waited
	}()
	output := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }

	sensor := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + local).SetClientID("sensor").
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).SetAutoReconnect(false))
	if tok := sensor.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to the gateway's broker: %v\n%s", tok.Error(), output())
	}
	defer sensor.Disconnect(0)
	var mu sync.Mutex
	acked := map[int]bool{}
	var exit error
publish:
	for n := 0; n < 20000; n++ {
		tok := sensor.Publish("zigbee2mqtt/th-1", 1, false, fmt.Sprintf(`{"temperature":%.2f}`, -50+float64(n)/100))
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			mu.Lock()
			acked[n] = true
			mu.Unlock()
		}
		if n == 200 {
			cmd.Process.Signal(syscall.SIGUSR2)
		}
		select {
		case exit = <-exited:
			break publish
		default:
		}
	}
	if exit == nil {
		exit = <-exited
	}
	var ee *exec.ExitError
	if !errors.As(exit, &ee) || ee.ExitCode() != 99 {
		t.Fatalf("the test build did not exit with 99 at the cut: %v\n%s", exit, output())
	}

	reg := prometheus.NewRegistry()
	sp, err := spool.Open(spool.Options{Dir: spoolDir, Registerer: reg})
	if err != nil {
		t.Fatalf("the spool does not open after the cut: %v", err)
	}
	defer sp.Close()
	recs, err := sp.Read(0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]bool{}
	for _, rec := range recs {
		var r model.Reading
		if model.EntryType(rec.Data) == model.EntryReading && model.DecodeReadingEntry(rec.Data, &r) == nil {
			found[int(math.Round((r.Value+50)*100))] = true
		}
	}
	for n := range acked {
		if !found[n] {
			t.Errorf("acknowledged reading %d lost in the cut", n)
		}
	}
	if repairs := testenv.Metric(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); repairs != 1 {
		t.Errorf("%v torn-tail repairs, want 1", repairs)
	}
	t.Logf("%d acknowledged, %d readings in the spool after the cut", len(acked), len(found))
}
