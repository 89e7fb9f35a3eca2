package embedbroker

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(addr, user, pass string) error {
	o := mqtt.NewClientOptions().AddBroker(addr).SetClientID("c-" + user).SetUsername(user).SetPassword(pass).
		SetConnectRetry(false).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return mqtt.ErrNotConnected
	}
	if tok.Error() == nil {
		c.Disconnect(50)
	}
	return tok.Error()
}

func TestUsersMustLogIn(t *testing.T) {
	b, err := Start(Config{Listen: "127.0.0.1:0", Users: map[string]string{"sensor": "s3cret"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := connect(b.Addr(), "sensor", "s3cret"); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if err := connect(b.Addr(), "sensor", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := connect(b.Addr(), "", ""); err == nil {
		t.Fatal("anonymous client accepted although users are configured")
	}
}

func TestEmptyPasswordRefused(t *testing.T) {
	if _, err := Start(Config{Listen: "127.0.0.1:0", Users: map[string]string{"sensor": ""}}, nil); err == nil {
		t.Fatal("a user with an empty password was accepted")
	}
}
