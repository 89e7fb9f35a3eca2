package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/cradlewatch/cradlewatch/model"
)

// column is one figure of a facility's month.
type column struct {
	title string
	value func(Totals) (float64, bool)
}

func ratioOf(num, den string) func(Totals) (float64, bool) {
	return func(t Totals) (float64, bool) { return t.Ratio(num, den) }
}

// okRatio is the share of a kind's room-minutes within limits.
func okRatio(k model.Kind) func(Totals) (float64, bool) {
	return ratioOf(model.ComplianceOKField(k), model.ComplianceMinutesField(k))
}

func meanMinutes(sum, count string) func(Totals) (float64, bool) {
	return func(t Totals) (float64, bool) {
		if t[count] == 0 {
			return 0, false
		}
		return t[sum] / t[count] / 60, true
	}
}

func plain(field string) func(Totals) (float64, bool) {
	return func(t Totals) (float64, bool) { return t[field], true }
}

// columns are the report's figures, in order, with Chinese titles.
var columns = []column{
	{"开放时长(小时)", func(t Totals) (float64, bool) { return t[model.FieldOpenMinutes] / 60, true }},
	{"数据完整率(%)", ratioOf(model.FieldDataMinutes, model.FieldOpenMinutes)},
	{"环境综合达标率(%)", Totals.EnvRatio},
	{"温度达标率(%)", okRatio(model.KindTemperature)},
	{"湿度达标率(%)", okRatio(model.KindHumidity)},
	{"二氧化碳达标率(%)", okRatio(model.KindCO2)},
	{"PM2.5达标率(%)", okRatio(model.KindPM25)},
	{"甲醛达标率(%)", okRatio(model.KindHCHO)},
	{"摄像头在线率(%)", ratioOf(model.FieldCameraOnlineMinutes, model.FieldCameraMinutes)},
	{"摄像头录像率(%)", ratioOf(model.FieldCameraRecordingMinutes, model.FieldCameraMinutes)},
	{"告警数", plain(model.FieldAlertsFired)},
	{"平均确认时长(分钟)", meanMinutes(model.FieldAckSecondsSum, model.FieldAcknowledged)},
	{"平均处置时长(分钟)", meanMinutes(model.FieldResolveSecondsSum, model.FieldResolved)},
}

func format(v float64, ok bool) string {
	if !ok {
		return "" // no data: an empty cell, never a made-up 0
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// WriteCSV writes one row per facility and a last row for the region.
// UTF-8 with a byte-order mark, so spreadsheet programs on Chinese Windows
// read the headers correctly.
func (r *Report) WriteCSV(w io.Writer) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	cw := csv.NewWriter(w)
	head := []string{"月份", "省", "市", "区县", "街道", "机构"}
	for _, c := range columns {
		head = append(head, c.title)
	}
	_ = cw.Write(head)
	month := r.Month.Format("2006-01")
	for _, f := range r.Facilities {
		row := []string{month, f.Facility.Province, f.Facility.City, f.Facility.County, f.Facility.Street, f.Facility.ID}
		for _, c := range columns {
			row = append(row, format(c.value(f.Totals)))
		}
		_ = cw.Write(row)
	}
	row := []string{month, "", "", "", "", "合计 " + r.Region}
	for _, c := range columns {
		row = append(row, format(c.value(r.Totals)))
	}
	_ = cw.Write(row)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}
