package influxwrite

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// request is what the test server saw of one write.
type request struct {
	path, query, auth, encoding string
	body                        string
}

// recorder answers every request with status and records it.
func recorder(t *testing.T, status int, answer string) (*httptest.Server, *[]request) {
	t.Helper()
	var seen []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		seen = append(seen, request{r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Encoding"), string(b)})
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestSinkRequests(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(c *Config)
		want request
	}{
		{"v1 database", func(c *Config) {},
			request{"/api/v2/write", "bucket=cradlewatch%2Fautogen&org=&precision=ms", "", "", "m v=1 1\nm v=2 2"}},
		{"v1 with user", func(c *Config) { c.Username, c.Password, c.RetentionPolicy = "u", "p", "" },
			request{"/api/v2/write", "bucket=cradlewatch&org=&precision=ms", "Token u:p", "", "m v=1 1\nm v=2 2"}},
		{"v2 gzip", func(c *Config) { c.Version, c.Org, c.Bucket, c.Token, c.Gzip = 2, "o", "b", "tok", true },
			request{"/api/v2/write", "bucket=b&org=o&precision=ms", "Token tok", "gzip", "m v=1 1\nm v=2 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, seen := recorder(t, http.StatusNoContent, "")
			cfg := DefaultConfig()
			cfg.URL = srv.URL + "/"
			c.cfg(&cfg)
			s := NewInfluxSink(cfg)
			defer s.Close()
			for range 2 { // the same client writes twice alike
				if err := s.Write(context.Background(), []byte("m v=1 1\nm v=2 2\n")); err != nil {
					t.Fatal(err)
				}
			}
			if len(*seen) != 2 || (*seen)[0] != c.want || (*seen)[1] != c.want {
				t.Fatalf("requests %+v, want twice %+v", *seen, c.want)
			}
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSinkErrors(t *testing.T) {
	cases := []struct {
		status int
		want   error // nil: neither ErrBadData nor ErrTooLarge
	}{
		{http.StatusBadRequest, ErrBadData},
		{http.StatusUnprocessableEntity, ErrBadData},
		{http.StatusRequestEntityTooLarge, ErrTooLarge},
		{http.StatusServiceUnavailable, nil},
		{http.StatusUnauthorized, nil},
	}
	for _, c := range cases {
		srv, _ := recorder(t, c.status, `{"error":"partial write: field type conflict"}`)
		cfg := DefaultConfig()
		cfg.URL = srv.URL
		s := NewInfluxSink(cfg)
		err := s.Write(context.Background(), []byte("m v=1 1\n"))
		s.Close()
		switch {
		case err == nil:
			t.Errorf("HTTP %d: no error", c.status)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("HTTP %d: %v, want %v", c.status, err, c.want)
		case c.want == nil && (errors.Is(err, ErrBadData) || errors.Is(err, ErrTooLarge)):
			t.Errorf("HTTP %d: %v must be retried, not bisected", c.status, err)
		}
	}
}

func TestSinkUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // its port now refuses connections
	cfg := DefaultConfig()
	cfg.URL, cfg.Timeout = srv.URL, time.Second
	s := NewInfluxSink(cfg)
	defer s.Close()
	err := s.Write(context.Background(), []byte("m v=1 1\n"))
	if err == nil || errors.Is(err, ErrBadData) || errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want a transient error", err)
	}
}
