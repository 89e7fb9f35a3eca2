package alerting

import (
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
)

// TestEventLine pins alert_event's line protocol: measurement, tags and
// fields as docs/schema.md and model's schema name them.
func TestEventLine(t *testing.T) {
	fired := time.UnixMilli(1764118800000)
	tr := rules.Transition{To: rules.Acknowledged, At: fired.Add(90 * time.Second), Actor: "园长",
		Alert: rules.Alert{Fingerprint: "00ff", Rule: "smoke_alarm", Facility: "110105001-0001", Room: "r1", Device: "smoke-1",
			Severity: rules.Critical, Value: 1, Limit: 0.5, Description: "烟雾报警", FiredAt: fired}}
	want := `alert_event,city=110100,county=110105,device=smoke-1,facility=110105001-0001,province=110000,room=r1,rule=smoke_alarm,severity=critical,state=acknowledged,street=110105001 fingerprint="00ff",value=1,limit=0.5,actor="园长",message="烟雾报警",ack_seconds=90.000 1764118890000` + "\n"
	if got := string(eventLine(nil, tr, "110105001")); got != want {
		t.Fatalf("line:\n%s\nwant:\n%s", got, want)
	}
}
