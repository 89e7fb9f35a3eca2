// Package promtext reads sample values from a Prometheus text exposition
// (a /metrics page), for tests and harnesses that watch a service from
// outside its process.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Sum adds the values of the samples of metric name whose label text
// contains every one of labels (`outcome="batch"`); found reports whether
// any sample matched.
func Sum(r io.Reader, name string, labels ...string) (sum float64, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found, sc.Err()
}

// Get fetches url with client (http.DefaultClient when nil) and sums like
// Sum.
func Get(client *http.Client, url, name string, labels ...string) (float64, bool, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Get(url)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return Sum(resp.Body, name, labels...)
}
