package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
)

// A full disk stops the gateway (docs/reliability.md): the spool's drop
// policy keeps it within spool.max_bytes, but only a filesystem with that
// much room lets the policy act before the disk refuses a write. The
// installer is told at check-config and at start, and the free bytes are a
// gauge (cw_gateway_spool_fs_free_bytes) to alert on.

// spoolRoomWarning is the warning for a spool in dir that holds held bytes
// and may grow to maxBytes on a filesystem with free bytes left; "" when
// they fit.
func spoolRoomWarning(dir string, maxBytes, free, held int64) string {
	if free+held >= maxBytes {
		return ""
	}
	return fmt.Sprintf("spool.max_bytes is %s, but the filesystem of %s has %s free and the spool holds %s: "+
		"the disk fills before the spool's drop policy acts, and a full disk stops the gateway until there is room; "+
		"lower spool.max_bytes or free space", mib(maxBytes), dir, mib(free), mib(held))
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// SpoolRoomWarning checks spool.dir's filesystem against spool.max_bytes:
// the warning, or "" when the spool fits or the room cannot be read (the
// directory's nearest existing parent is asked when it does not exist yet).
func (c *Config) SpoolRoomWarning() string {
	free, err := diskFree(existingParent(c.Spool.Dir))
	if err != nil {
		return ""
	}
	return spoolRoomWarning(c.Spool.Dir, c.Spool.MaxBytes, free, dirBytes(c.Spool.Dir))
}

// existingParent is dir or its nearest ancestor that exists.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return dir
		}
		dir = up
	}
}

// dirBytes is the size of the regular files directly in dir (a spool's
// segments and checkpoint); 0 when it cannot be read.
func dirBytes(dir string) int64 {
	es, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range es {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// registerDiskFree exports the free bytes of dir's filesystem, read at
// each scrape (NaN when they cannot be read).
func registerDiskFree(reg prometheus.Registerer, dir string) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cw_gateway_spool_fs_free_bytes",
		Help: "Bytes free on the spool directory's filesystem (statfs f_bavail): below spool.max_bytes minus cw_gateway_spool_bytes, a full disk can stop the gateway before the drop policy acts.",
	}, func() float64 {
		free, err := diskFree(dir)
		if err != nil {
			return math.NaN()
		}
		return float64(free)
	}))
}

// warnSpoolRoom logs the spool room warning at start, if any.
func (g *Gateway) warnSpoolRoom() {
	free, err := diskFree(g.cfg.Spool.Dir)
	if err != nil {
		g.log.Debug("free disk space of the spool unknown", "err", err)
		return
	}
	if w := spoolRoomWarning(g.cfg.Spool.Dir, g.cfg.Spool.MaxBytes, free, g.spool.Stats().Bytes); w != "" {
		g.log.Warn(w)
	}
}
