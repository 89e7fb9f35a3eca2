package model

import (
	"fmt"
	"strings"
)

// TopicPrefix is the root of every topic of wire contract v1.
const TopicPrefix = "cw/v1"

// Topic suffixes of wire contract v1. The full topic is
// cw/v1/<facility>/<gateway>/<suffix>. A broker ACL binds a gateway's
// credentials to its own topics: MQTT username = facility ID and client ID =
// gateway ID, so Mosquitto's "pattern readwrite cw/v1/%u/%c/#" (EMQX:
// ${username}/${clientid}) is the whole ACL.
const (
	SuffixBatch  = "batch"  // gateway → centre, QoS 1, binary Batch
	SuffixAck    = "ack"    // centre → gateway, QoS 1, JSON Ack
	SuffixStatus = "status" // gateway → everyone, QoS 1, retained JSON Status; also the last will
)

// Topic builds cw/v1/<facility>/<gateway>/<suffix>.
func Topic(facility, gateway, suffix string) string {
	return TopicPrefix + "/" + facility + "/" + gateway + "/" + suffix
}

// SubscriptionAll is the filter for one suffix across every facility and gateway.
func SubscriptionAll(suffix string) string {
	return TopicPrefix + "/+/+/" + suffix
}

// SharedSubscription is the MQTT shared-subscription form of
// SubscriptionAll, so that several instances of a service share the load.
func SharedSubscription(group, suffix string) string {
	return "$share/" + group + "/" + SubscriptionAll(suffix)
}

// ParseTopic splits a v1 topic into facility, gateway and suffix.
func ParseTopic(topic string) (facility, gateway, suffix string, err error) {
	rest, ok := strings.CutPrefix(topic, TopicPrefix+"/")
	if !ok {
		return "", "", "", fmt.Errorf("topic %q is not under %s/", topic, TopicPrefix)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("topic %q must be %s/<facility>/<gateway>/<kind>", topic, TopicPrefix)
	}
	if err := ValidateID("facility in topic", parts[0]); err != nil {
		return "", "", "", err
	}
	if err := ValidateID("gateway in topic", parts[1]); err != nil {
		return "", "", "", err
	}
	return parts[0], parts[1], parts[2], nil
}
