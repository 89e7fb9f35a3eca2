// Package provider holds what the SMS and voice providers' notifiers
// share: their endpoint settings' defaults.
package provider

import (
	"fmt"
	"time"
)

// DefaultTimeout bounds one request to a provider.
const DefaultTimeout = 10 * time.Second

// Endpoint is where a provider's API is reached.
type Endpoint struct {
	Region  *string
	Host    *string
	Scheme  *string
	Timeout *time.Duration
}

// Fill sets what is empty: the region and host to the given defaults,
// the scheme to HTTPS, the timeout to DefaultTimeout.
func (e Endpoint) Fill(region, host string) {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(e.Region, region)
	set(e.Host, host)
	set(e.Scheme, "HTTPS")
	if *e.Timeout == 0 {
		*e.Timeout = DefaultTimeout
	}
}

// PlayTimes checks a call's play count (1-3; 0 takes the default of 2)
// and sets the default.
func PlayTimes(name string, n *int) error {
	if *n < 0 || *n > 3 {
		return fmt.Errorf("%s: play_times %d is not 1-3", name, *n)
	}
	if *n == 0 {
		*n = 2
	}
	return nil
}
