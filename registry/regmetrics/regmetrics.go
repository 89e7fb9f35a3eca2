// Package regmetrics exposes a registry's counters to Prometheus for the
// central services. It is apart from package registry, which stays on the
// standard library because the gateway links it.
package regmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/registry"
)

type collector struct {
	r                                  *registry.Registry
	facilities, generation, reloads    *prometheus.Desc
	rejected, sourceErrors, lastChange *prometheus.Desc
}

// Register adds the registry's metrics to reg:
//
//	cw_registry_facilities                    facilities in the current snapshot
//	cw_registry_generation                    snapshots published
//	cw_registry_reloads_total                 snapshots published after the first
//	cw_registry_rejected_total                records refused (invalid, or in conflict), once per version
//	cw_registry_source_errors_total           polls whose source could not be read
//	cw_registry_last_change_timestamp_seconds when the current snapshot was published
func Register(reg prometheus.Registerer, r *registry.Registry) error {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return reg.Register(&collector{r: r,
		facilities:   d("cw_registry_facilities", "Facilities in the current registry snapshot."),
		generation:   d("cw_registry_generation", "Registry snapshots published since start."),
		reloads:      d("cw_registry_reloads_total", "Registry snapshots published after the first (a record changed)."),
		rejected:     d("cw_registry_rejected_total", "Registry records refused (invalid, or claiming another record's facility or gateway ID); each version counted once. The last good version stays in force."),
		sourceErrors: d("cw_registry_source_errors_total", "Registry polls whose source could not be read; the current snapshot stays."),
		lastChange:   d("cw_registry_last_change_timestamp_seconds", "When the current registry snapshot was published."),
	})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.facilities, c.generation, c.reloads, c.rejected, c.sourceErrors, c.lastChange} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(c.facilities, prometheus.GaugeValue, float64(s.Facilities))
	ch <- prometheus.MustNewConstMetric(c.generation, prometheus.GaugeValue, float64(s.Generation))
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(s.Reloads))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(s.Rejected))
	ch <- prometheus.MustNewConstMetric(c.sourceErrors, prometheus.CounterValue, float64(s.SourceErrors))
	ch <- prometheus.MustNewConstMetric(c.lastChange, prometheus.GaugeValue, float64(s.LastChange.UnixNano())/1e9)
}
