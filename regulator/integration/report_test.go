package integration

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/regulator/report"
)

func testReport(t *testing.T, e *env) {
	rep, err := report.Build(context.Background(), e.query, e.rs, "110105", e.data.From, e.loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Facilities) != 3 {
		t.Fatalf("county 110105 has %d facilities in the report, want 3", len(rep.Facilities))
	}
	// The region total equals the sum of the rollup hours of its facilities.
	var open float64
	for _, h := range e.hours {
		if h.Facility.County == "110105" {
			open += h.Fields["open_minutes"]
		}
	}
	if rep.Totals["open_minutes"] != open {
		t.Errorf("report open minutes %v, rollups %v", rep.Totals["open_minutes"], open)
	}
	var csvBuf, htmlBuf bytes.Buffer
	if err := rep.WriteCSV(&csvBuf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(csvBuf.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3+1 {
		t.Errorf("csv has %d rows, want header + 3 facilities + total", len(rows))
	}
	if err := rep.WriteHTML(&htmlBuf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, htmlBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	screenshot(t, page, filepath.Join("..", "report", "testdata", "report-example.png"))
}

// chromiumTimeout bounds one headless render.
const chromiumTimeout = 60 * time.Second

// screenshot renders page in headless Chromium, skipping when it is not
// installed unless CW_REQUIRE_INTEGRATION=1.
func screenshot(t *testing.T, page, out string) {
	bin := "/usr/bin/chromium"
	if p := os.Getenv("CW_CHROMIUM"); p != "" {
		bin = p
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CW_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("chromium not found at %s", bin)
		}
		t.Skipf("chromium not found at %s", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	abs, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--screenshot="+abs, "--window-size=1200,1600", "file://"+page)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	st, err := os.Stat(abs)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s missing or blank: %v", abs, err)
	}
}
