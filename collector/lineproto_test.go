package collector

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/model"
)

// referenceLine is the reading line written tag by tag, the obvious way;
// readingLines must write exactly the same bytes.
func referenceLine(dst []byte, facility string, rt *regionTags, r *model.Reading) []byte {
	dst = influxwrite.AppendMeasurement(dst, r.Kind.String())
	dst = influxwrite.AppendTag(dst, "city", rt.city)
	dst = influxwrite.AppendTag(dst, "county", rt.county)
	dst = influxwrite.AppendTag(dst, "device", r.Device)
	dst = influxwrite.AppendTag(dst, "facility", facility)
	dst = influxwrite.AppendTag(dst, "province", rt.province)
	dst = influxwrite.AppendTag(dst, "room", r.Room)
	dst = influxwrite.AppendTag(dst, "street", rt.street)
	dst = append(dst, " value="...)
	dst = strconv.AppendFloat(dst, r.Value, 'f', -1, 64)
	return influxwrite.AppendTimestamp(dst, r.Time)
}

func TestReadingLinesMatchReference(t *testing.T) {
	regions := []regionTags{newRegionTags("110105001"), newRegionTags(""), {city: "a b", county: "c,d", province: "e=f", street: "s"}}
	devices := []string{"th-1", "th-1", "th-2", "door 1", "th-2"} // runs, repeats and a value that needs escaping
	rooms := []string{"infant-1", "", "infant-1", "", "toddler,2"}
	values := []float64{23.4, -0.05, 800, 1e-7, 1234.5675, 5}
	for _, rt := range regions {
		for _, facility := range []string{"110105001-0001", "f=x"} {
			var l readingLines
			var got, want []byte
			for i := range 60 {
				r := model.Reading{Device: devices[i/3%len(devices)], Room: rooms[i/2%len(rooms)],
					Kind: model.Kinds()[i%len(model.Kinds())], Time: t0.Add(time.Duration(i/4) * time.Millisecond), Value: values[i%len(values)]}
				if i%20 == 0 {
					l.reset(facility, &rt) // a new batch
				}
				got = l.appendLine(got, &r, r.Time.UnixMilli())
				want = referenceLine(want, facility, &rt, &r)
			}
			if string(got) != string(want) {
				t.Fatalf("region %+v facility %q:\n%s\nwant:\n%s", rt, facility, got, want)
			}
		}
	}
}

// TestLagHistogramMatchesPrometheus: adding readings in groups must expose
// what observing them one by one with a prometheus.Histogram exposes.
func TestLagHistogramMatchesPrometheus(t *testing.T) {
	bounds := prometheus.ExponentialBuckets(0.01, 4, 12)
	ours := newLagHistogram("lag_seconds", "help", bounds)
	theirs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lag_seconds", Help: "help", Buckets: bounds})
	now := t0.Add(123456 * time.Microsecond)
	var w work
	for i, lagMs := range []int64{0, 0, 0, 5, 10, 10, 123, 40, 40, 40, 160, 1e6, 1e9, -3000} {
		ms := now.UnixMilli() - lagMs
		w.addLag(ms)
		if i == 7 {
			w.addLag(ms) // two readings of the same millisecond
			theirs.Observe(now.Sub(time.UnixMilli(ms)).Seconds())
		}
		theirs.Observe(now.Sub(time.UnixMilli(ms)).Seconds())
	}
	ours.observe(w.lag, now)
	if len(w.lag) >= 16 {
		t.Fatalf("%d groups for 15 readings with repeated times", len(w.lag))
	}
	var a, b dto.Metric
	ch := make(chan prometheus.Metric, 1)
	ours.Collect(ch)
	if err := (<-ch).Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := theirs.Write(&b); err != nil {
		t.Fatal(err)
	}
	ha, hb := a.GetHistogram(), b.GetHistogram()
	if ha.GetSampleCount() != hb.GetSampleCount() || fmt.Sprintf("%.9f", ha.GetSampleSum()) != fmt.Sprintf("%.9f", hb.GetSampleSum()) {
		t.Fatalf("count/sum %d/%v, want %d/%v", ha.GetSampleCount(), ha.GetSampleSum(), hb.GetSampleCount(), hb.GetSampleSum())
	}
	bucketText := func(h *dto.Histogram) string {
		var s strings.Builder
		for _, bk := range h.GetBucket() {
			fmt.Fprintf(&s, "le=%g:%d ", bk.GetUpperBound(), bk.GetCumulativeCount())
		}
		return s.String()
	}
	if bucketText(ha) != bucketText(hb) {
		t.Fatalf("buckets\n%s\nwant\n%s", bucketText(ha), bucketText(hb))
	}
}
