package influxql

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestClientRequests checks what goes on the wire and how each kind of
// answer comes back: series, a statement error inside a 200 (InfluxDB sends
// the status before it runs the statement), an error status with a JSON
// error, and an answer that is not JSON at all.
func TestClientRequests(t *testing.T) {
	type seen struct {
		form url.Values
		auth string
	}
	tests := []struct {
		name     string
		client   Client
		status   int
		answer   string
		want     seen
		wantErr  bool
		wantQErr int // statement of the QueryError; -2 for none
	}{
		{"default epoch, database", Client{Database: "cw"}, 200, `{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,2]]}]}]}`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "db": {"cw"}, "epoch": {"ms"}}, ""}, false, -2},
		{"token, nanoseconds", Client{Database: "cw", Token: "u:p", Epoch: EpochNanos}, 200, `{"results":[{"statement_id":0}]}`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "db": {"cw"}, "epoch": {"ns"}}, "Token u:p"}, false, -2},
		{"basic auth, no database", Client{Username: "u", Password: "p"}, 200, `{"results":[{"statement_id":0}]}`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "epoch": {"ms"}}, "Basic dTpw"}, false, -2},
		{"statement error in a 200", Client{Database: "cw"}, 200, `{"results":[{"statement_id":0,"error":"database not found: cw"}]}`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "db": {"cw"}, "epoch": {"ms"}}, ""}, true, 0},
		{"request error with 401", Client{Database: "cw"}, 401, `{"error":"authorization failed"}`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "db": {"cw"}, "epoch": {"ms"}}, ""}, true, -1},
		{"not JSON", Client{Database: "cw"}, 502, `<html>bad gateway</html>`,
			seen{url.Values{"q": {"SELECT v FROM m"}, "db": {"cw"}, "epoch": {"ms"}}, ""}, true, -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/query" {
					t.Errorf("%s %s, want POST /query", r.Method, r.URL.Path)
				}
				b, _ := io.ReadAll(r.Body)
				got.form, _ = url.ParseQuery(string(b))
				got.auth = r.Header.Get("Authorization")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			c := tt.client
			c.URL = srv.URL + "/"
			c.HTTP = srv.Client()
			series, err := c.Query(context.Background(), "SELECT v FROM m")
			if got.form.Encode() != tt.want.form.Encode() || got.auth != tt.want.auth {
				t.Errorf("sent %v auth %q, want %v auth %q", got.form, got.auth, tt.want.form, tt.want.auth)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var qe *QueryError
			if isQE := errors.As(err, &qe); isQE != (tt.wantQErr != -2) || (isQE && (qe.Statement != tt.wantQErr || qe.Query != "SELECT v FROM m")) {
				t.Fatalf("err = %#v, want QueryError for statement %d", err, tt.wantQErr)
			}
			if err == nil && tt.name == "default epoch, database" && (len(series) != 1 || series[0].Column("v") != 1) {
				t.Errorf("series = %+v", series)
			}
		})
	}
}

func TestValues(t *testing.T) {
	at := time.UnixMilli(1_764_118_800_123)
	for _, v := range []any{float64(1_764_118_800_123), jsonNumber("1764118800123")} {
		if got := Time(v); !got.Equal(at) {
			t.Errorf("Time(%#v) = %v, want %v", v, got, at)
		}
	}
	if f, ok := Float(jsonNumber("1.5")); !ok || f != 1.5 {
		t.Errorf("Float = %v, %v", f, ok)
	}
	if _, ok := Float(nil); ok {
		t.Error("Float(nil) ok")
	}
	if got := Literal(`it's \ here`); got != `'it\'s \\ here'` {
		t.Errorf("Literal = %s", got)
	}
	if got := TimeRange(time.Unix(1, 0), time.Unix(2, 0)); got != "time >= 1000000000 AND time < 2000000000" {
		t.Errorf("TimeRange = %s", got)
	}
}

func jsonNumber(s string) any { return json.Number(s) }
