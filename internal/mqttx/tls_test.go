package mqttx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestUplinkTLS: the gateway's uplink verifies the broker's certificate
// against the configured CA and presents its own client certificate when
// the broker requires one (real Mosquitto).
func TestUplinkTLS(t *testing.T) {
	certs := testenv.Certs(t, "gw-1")
	other := testenv.Certs(t, "gw-1") // a CA the broker's certificate is not from
	b := testenv.Mosquitto(t, testenv.WithConfig(
		"cafile "+certs.CA, "certfile "+certs.ServerCert, "keyfile "+certs.ServerKey,
		"require_certificate true", "tls_version tlsv1.2"))
	url := strings.Replace(b.Addr(), "tcp://", "ssl://", 1)
	connect := func(tls mqttx.TLS) error {
		c, err := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: url, ClientID: "gw-1", TLS: tls}, CleanSession: true, AutoAck: true})
		if err != nil {
			return err
		}
		defer c.Disconnect(50)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return mqttx.Connect(ctx, c)
	}
	if err := connect(mqttx.TLS{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}); err != nil {
		t.Fatalf("verified TLS with a client certificate failed: %v", err)
	}
	if err := connect(mqttx.TLS{CAFile: other.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}); err == nil {
		t.Fatal("connected although the broker's certificate is not from the configured CA")
	}
	if err := connect(mqttx.TLS{CAFile: certs.CA}); err == nil {
		t.Fatal("connected without the client certificate the broker requires")
	}
}
