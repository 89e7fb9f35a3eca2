package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpotcheckDrawAndVerify(t *testing.T) {
	dir := t.TempDir()
	req := filepath.Join(dir, "request.json")
	if err := os.WriteFile(req, []byte(`{"county": "110105", "sample_size": 2, "inspectors_per_facility": 1,
		"parameters": {"base": 1, "unacknowledged_alerts": {"weight": 3, "cap": 5}, "repeated_alerts": {"weight": 2, "cap": 10},
			"out_of_limits": 2, "camera_gap": 2, "gateway_gap": 1, "inspection": {"weight": 2, "cap": 365}},
		"candidates": [{"facility": "110105001-0001", "unacknowledged_alerts": 2}, {"facility": "110105001-0002", "never_inspected": true},
			{"facility": "110105002-0001", "camera_gap_share": 0.3}],
		"inspectors": [{"id": "A1", "name": "王建国"}, {"id": "A2", "name": "李敏"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "draw.json")
	log := slog.New(slog.DiscardHandler)
	var stdout bytes.Buffer
	if err := runSpotcheck([]string{"draw", "-request", req, "-out", out}, &stdout, log); err != nil {
		t.Fatal(err)
	}
	if err := runSpotcheck([]string{"verify", out}, &stdout, log); err != nil || !strings.Contains(stdout.String(), "reproduced") {
		t.Fatalf("verify: %v\n%s", err, stdout.String())
	}
	b, _ := os.ReadFile(out)
	tampered := strings.Replace(string(b), `"sample_size": 2`, `"sample_size": 1`, 1)
	if err := os.WriteFile(out, []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runSpotcheck([]string{"verify", out}, &stdout, log); err == nil {
		t.Error("a tampered draw verifies")
	}
	if err := runSpotcheck([]string{"draw", "-request", filepath.Join(dir, "missing.json")}, &stdout, log); err == nil {
		t.Error("a missing request draws")
	}
}
