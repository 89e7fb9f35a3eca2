package influxql

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseResult(t *testing.T) {
	tests := []struct {
		file      string
		series    int
		count     int64
		countErr  bool
		queryErr  int // statement of the expected QueryError; -2 for none
		decodeErr bool
	}{
		{file: "count.json", series: 1, count: 3, queryErr: -2},
		{file: "count_grouped.json", series: 2, count: 7, queryErr: -2},
		{file: "empty.json", series: 0, count: 0, queryErr: -2},
		{file: "select.json", series: 1, countErr: true, queryErr: -2},
		{file: "count_not_number.json", series: 1, countErr: true, queryErr: -2},
		{file: "statement_error.json", queryErr: 0},
		{file: "request_error.json", queryErr: -1},
		{file: "truncated.json", decodeErr: true, queryErr: -2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := parse(bytes.NewReader(b))
			var qe *QueryError
			switch {
			case tt.queryErr != -2:
				if !errors.As(err, &qe) || qe.Statement != tt.queryErr {
					t.Fatalf("err = %v, want QueryError for statement %d", err, tt.queryErr)
				}
				return
			case tt.decodeErr:
				if err == nil || errors.As(err, &qe) {
					t.Fatalf("err = %v, want a decode error", err)
				}
				return
			case err != nil:
				t.Fatalf("parse: %v", err)
			}
			if len(res) != tt.series {
				t.Fatalf("got %d series, want %d", len(res), tt.series)
			}
			n, err := Sum(res)
			if (err != nil) != tt.countErr {
				t.Fatalf("count err = %v, want error %v", err, tt.countErr)
			}
			if err == nil && n != tt.count {
				t.Errorf("count = %d, want %d", n, tt.count)
			}
		})
	}
}

func TestParseResultValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "select.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	s := res[0]
	if s.Name != "temperature" || !reflect.DeepEqual(s.Tags, map[string]string{"facility": "f1"}) {
		t.Errorf("series = %+v", s)
	}
	if got := s.Column("value"); got != 1 {
		t.Errorf("Column(value) = %d, want 1", got)
	}
	if got := s.Column("nope"); got != -1 {
		t.Errorf("Column(nope) = %d, want -1", got)
	}
	// Times must survive exactly: nanosecond integers beyond float64's 2^53.
	if got := s.Values[0][0]; got != json.Number("1700000000123000000") {
		t.Errorf("time = %#v, want exact json.Number", got)
	}
	if got := s.Values[0][2]; got != "t1" {
		t.Errorf("device = %#v", got)
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cradlewatch", `"cradlewatch"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
	}
	for _, tt := range tests {
		if got := QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzParseResult feeds arbitrary server answers to the decoder: it must
// return a result or an error, never panic, and a result must be countable
// or fail cleanly.
func FuzzParseResult(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		_, _ = Sum(res)
	})
}
