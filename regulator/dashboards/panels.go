package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/geomap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Panel sizes on Grafana's 24-column grid.
const (
	fullWidth  = 24
	halfWidth  = 12
	thirdWidth = 8
	quarter    = 6
	statHeight = 4
	plotHeight = 8
)

func targets(qs []*InfluxQLBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, q := range qs {
		out[i] = q
	}
	return out
}

// band is a threshold step: from Value upwards the colour is Color.
type band struct {
	from  *float64
	color string
}

func at(v float64) *float64 { return &v }

func thresholds(bands ...band) *dashboard.ThresholdsConfigBuilder {
	steps := make([]dashboard.Threshold, len(bands))
	for i, b := range bands {
		steps[i] = dashboard.Threshold{Value: b.from, Color: b.color}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func timeSeries(title, unit string, qs ...*InfluxQLBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Datasource(*influxDS()).
		Unit(unit).
		Targets(targets(qs)).
		Span(halfWidth).Height(plotHeight)
}

// withLimits draws the limits as dashed lines with a tinted area, so a
// regulator sees at a glance when a room left the allowed band.
func withLimits(p *timeseries.PanelBuilder, bands ...band) *timeseries.PanelBuilder {
	return p.Thresholds(thresholds(bands...)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashedAndArea))
}

func statPanel(title, unit string, color string, qs ...*InfluxQLBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Datasource(*influxDS()).
		Unit(unit).
		Targets(targets(qs)).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Thresholds(thresholds(band{nil, color})).
		NoValue("0"). // InfluxQL returns no row, not 0, when nothing matches
		Span(quarter).Height(statHeight)
}

func tablePanel(title string, qs ...*InfluxQLBuilder) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		// Grafana's schema requires the footer's reducer list, even empty.
		Footer(common.NewTableFooterOptionsBuilder().Reducer([]string{})).
		Datasource(*influxDS()).
		Targets(targets(qs)).
		Span(halfWidth).Height(plotHeight)
}

// stateTimeline shows 1/0 states (door open, camera online) as coloured bands.
func stateTimeline(title string, zero, one string, zeroColor, oneColor string, qs ...*InfluxQLBuilder) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Title(title).
		Datasource(*influxDS()).
		Targets(targets(qs)).
		Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
			Type: dashboard.MappingTypeValueToText,
			Options: map[string]dashboard.ValueMappingResult{
				"0": {Text: &zero, Color: &zeroColor},
				"1": {Text: &one, Color: &oneColor},
			},
		}}}).
		MergeValues(true).
		ShowValue(common.VisibilityModeNever).
		Span(fullWidth).Height(plotHeight)
}

func mapPanel(title string, qs ...*InfluxQLBuilder) *geomap.PanelBuilder {
	return geomap.NewPanelBuilder().
		Title(title).
		Datasource(*influxDS()).
		Targets(targets(qs)).
		View(geomap.NewMapViewConfigBuilder().Id("fit").Zoom(10)).
		Basemap(common.NewMapLayerOptionsBuilder().Type("default").Name("Basemap")).
		Layers([]cog.Builder[common.MapLayerOptions]{
			common.NewMapLayerOptionsBuilder().Type("markers").Name("机构").
				Location(common.NewFrameGeometrySourceBuilder().Mode(common.FrameGeometrySourceModeCoords).Latitude("lat").Longitude("lon")).
				Config(map[string]any{"style": map[string]any{
					"color": map[string]any{"field": "online", "fixed": "dark-green"},
					"size":  map[string]any{"fixed": 6},
				}}).
				Tooltip(true),
		}).
		Span(halfWidth).Height(plotHeight * 2)
}

func promQuery(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).LegendFormat(legend).Range().Datasource(promDS())
}
