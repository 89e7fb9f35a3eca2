package fileutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, want := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"+TempSuffix))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "state.json.123"+TempSuffix)
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "state.json")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTemps(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp still there: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal(err)
	}
}

func TestJSONRoundTripAndMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.json")
	var v map[string]int
	if err := LoadJSON(p, &v); err != nil || v != nil {
		t.Fatalf("missing file: %v %v", v, err)
	}
	if err := SaveJSON(p, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := LoadJSON(p, &v); err != nil || v["a"] != 1 {
		t.Fatalf("got %v %v", v, err)
	}
	if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LoadJSON(p, &v); err == nil {
		t.Fatal("corrupt JSON accepted")
	}
}
