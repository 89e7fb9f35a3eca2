package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// The SDK (v0.0.22) ships no InfluxDB query type, so InfluxQL targets are
// defined here as a custom dataquery, as the SDK's documentation describes.

// Result formats of an InfluxQL target.
const (
	FormatTimeSeries = "time_series"
	FormatTable      = "table"
)

// InfluxQLQuery is a raw InfluxQL target of Grafana's InfluxDB datasource.
type InfluxQLQuery struct {
	RefId        string                `json:"refId"`
	Hide         *bool                 `json:"hide,omitempty"`
	Datasource   *common.DataSourceRef `json:"datasource,omitempty"`
	Query        string                `json:"query"`
	RawQuery     bool                  `json:"rawQuery"`
	ResultFormat string                `json:"resultFormat"`
	Alias        string                `json:"alias,omitempty"`
}

// ImplementsDataqueryVariant marks InfluxQLQuery as a dataquery.
func (InfluxQLQuery) ImplementsDataqueryVariant() {}

// DataqueryType is the datasource plugin id.
func (InfluxQLQuery) DataqueryType() string { return "influxdb" }

// Validate accepts every query: the integration test runs them instead.
func (InfluxQLQuery) Validate() error { return nil }

// Equals compares two queries field by field.
func (q InfluxQLQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(InfluxQLQuery)
	return ok && q.RefId == o.RefId && q.Query == o.Query && q.ResultFormat == o.ResultFormat && q.Alias == o.Alias
}

// InfluxQLBuilder builds an InfluxQLQuery.
type InfluxQLBuilder struct{ q InfluxQLQuery }

var _ cog.Builder[variants.Dataquery] = (*InfluxQLBuilder)(nil)

// Build returns the query.
func (b *InfluxQLBuilder) Build() (variants.Dataquery, error) { return b.q, nil }

func influx(refID, format, query string) *InfluxQLBuilder {
	return &InfluxQLBuilder{q: InfluxQLQuery{
		RefId: refID, Datasource: influxDS(), Query: query, RawQuery: true, ResultFormat: format,
	}}
}

func (b *InfluxQLBuilder) alias(a string) *InfluxQLBuilder { b.q.Alias = a; return b }

// Datasource uids are fixed so provisioning and dashboards agree without
// lookups by name (names are for humans and get renamed).
const (
	InfluxUID     = "cw-influxdb"
	PrometheusUID = "cw-prometheus"
)

func influxDS() *common.DataSourceRef {
	t, u := "influxdb", InfluxUID
	return &common.DataSourceRef{Type: &t, Uid: &u}
}

func promDS() common.DataSourceRef {
	t, u := "prometheus", PrometheusUID
	return common.DataSourceRef{Type: &t, Uid: &u}
}
