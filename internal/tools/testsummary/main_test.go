package main

import (
	"strings"
	"testing"
)

// A failed test's own output (why it failed) reaches the reader; a passing
// test's does not.
func TestFailedTestOutputIsPrinted(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: got 1, want 2\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"--- FAIL: TestA (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.01}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: chatter\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0.01}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:5: needs CW_BENCH=1\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.02s\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":0.02}`,
	}, "\n")
	var out strings.Builder
	if rc := run(strings.NewReader(in), &out); rc != 1 {
		t.Errorf("exit code %d, want 1", rc)
	}
	got := out.String()
	for _, want := range []string{"a_test.go:9: got 1, want 2", "--- FAIL: TestA", "FAIL\tp", "p TestC: c_test.go:5: needs CW_BENCH=1", "1 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
}

func TestHoldKeepsTheLastLines(t *testing.T) {
	var lines []string
	for i := range maxHeld + 10 {
		lines = hold(lines, string(rune('a'+i%26)))
	}
	if len(lines) != maxHeld || lines[maxHeld-1] != string(rune('a'+(maxHeld+9)%26)) {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
