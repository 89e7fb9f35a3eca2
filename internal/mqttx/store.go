package mqttx

import "github.com/eclipse/paho.mqtt.golang/packets"

// nopStore is a paho Store that keeps nothing. paho stores every received
// QoS 1 message until its PUBACK is sent, to replay the PUBACK after a
// reconnect; for a subscriber that acknowledges only what it has made safe
// that buys nothing (the broker redelivers whatever was not acknowledged),
// and the bookkeeping was a visible share of the gateway's CPU. Clients
// that publish QoS 1 and rely on paho's redelivery must not use it; ours
// rely on their own acknowledgements (docs/wire.md).
type nopStore struct{}

func (nopStore) Open()                             {}
func (nopStore) Put(string, packets.ControlPacket) {}
func (nopStore) Get(string) packets.ControlPacket  { return nil }
func (nopStore) All() []string                     { return nil }
func (nopStore) Del(string)                        {}
func (nopStore) Close()                            {}
func (nopStore) Reset()                            {}
