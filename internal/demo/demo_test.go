package demo

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the services' concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the demo as the README's command does, for a minute, and
// checks what the README promises: the SMS line of the scripted CO2
// incident, and readings of every kind in InfluxDB.
func TestDemo(t *testing.T) {
	testenv.Influx(t) // skips or fails like every integration test when influxd is missing
	var out, logs syncBuffer
	err := Run(context.Background(), Options{
		Root: filepath.Join("..", ".."), Dir: t.TempDir(), Duration: 60 * time.Second, Out: &out,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, logs.String())
	}
	sms := regexp.MustCompile(`msg=SMS .*to=138\*\*\*\*1234 .*二氧化碳`).FindString(logs.String())
	if sms == "" {
		t.Fatalf("no SMS line for the CO2 incident in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "13800001234") {
		t.Fatal("a phone number appears unmasked in the log")
	}
	t.Log(sms)
	// The banner names the console and a login for an operator and a county.
	for _, re := range []string{`console +http://127\.0\.0\.1:\d+ `, `login demo-operator +password \S{16} `, `login demo-county +password \S{16} `,
		`Bearer cwt_[0-9a-f]{16}_\S{43}' http://127\.0\.0\.1:\d+/api/v1/alerts`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("banner lacks %s:\n%s", re, out.String())
		}
	}
	summary := out.String()[strings.LastIndex(out.String(), "In InfluxDB"):]
	for _, kind := range []string{"temperature", "humidity", "co2", "door", "camera_online"} {
		m := regexp.MustCompile(kind + `=(-?\d+)`).FindStringSubmatch(summary)
		if m == nil {
			t.Fatalf("summary has no %s: %s", kind, summary)
		}
		if n, _ := strconv.Atoi(m[1]); n <= 0 {
			t.Errorf("no %s readings in InfluxDB: %s", kind, summary)
		}
	}
}
