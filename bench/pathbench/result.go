package pathbench

import "time"

// ProcResult is one process's cost over the measurement.
type ProcResult struct {
	Name    string
	Pid     int
	CPU     time.Duration // utime+stime from the first publish to the pipeline's completion
	PeakRSS int64         // VmHWM in bytes, over the process's whole life
}

// PipelineResult is one pipeline's outcome.
type PipelineResult struct {
	Name     string
	Expected int64         // readings published
	Stored   int64         // readings counted in its database
	Wall     time.Duration // first publish until the count reached Expected (or the timeout)
	Complete bool          // Stored == Expected
	Procs    []ProcResult  // the pipeline's own processes
}

// CPU is the pipeline's processes' CPU time together.
func (p PipelineResult) CPU() time.Duration {
	var d time.Duration
	for _, pr := range p.Procs {
		d += pr.CPU
	}
	return d
}

// Result is what Run measured.
type Result struct {
	Readings   int64 // published readings (messages × ReadingsPerMessage)
	Messages   int64
	Devices    int
	Publishers int
	Publish    PublishStats
	Pipelines  []PipelineResult
	// Shared are the processes both pipelines use (mosquitto, influxd),
	// from the first publish until every pipeline completed.
	Shared []ProcResult
	// Wall is the first publish until every pipeline completed.
	Wall time.Duration
}

// perMillion scales a CPU time to seconds per million readings.
func perMillion(cpu time.Duration, readings int64) float64 {
	if readings == 0 {
		return 0
	}
	return cpu.Seconds() * 1e6 / float64(readings)
}

// rate is readings per second over d.
func rate(readings int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(readings) / d.Seconds()
}
