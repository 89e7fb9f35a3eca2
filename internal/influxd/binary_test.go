package influxd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRootFrom(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("repo/go.mod", "// comment\nmodule "+ModulePath+" // the project\n\ngo 1.26.0\n")
	write("repo/tools/go.mod", "module example.com/tools\n")
	write("repo/tools/sub/x.txt", "")
	write("quoted/go.mod", "module \""+ModulePath+"\"\n")
	write("quoted/a/x.txt", "")
	write("other/go.mod", "module example.com/other\n")

	tests := []struct {
		start string
		want  string // "" means an error is expected
	}{
		{"repo", "repo"},
		{"repo/tools/sub", "repo"}, // a nested module of another name is skipped
		{"quoted/a", "quoted"},
		{"other", ""},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			got, err := repoRootFrom(filepath.Join(root, tt.start))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tt.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	root := t.TempDir()
	exe := filepath.Join(root, CacheBin, "influxd")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(root, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Setenv(EnvBinary, "")
	if _, err := Lookup(root); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("empty cache: err = %v, want ErrNotInstalled", err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Lookup(root); err != nil || got != exe {
		t.Fatalf("cache: got %s, %v; want %s", got, err, exe)
	}
	t.Setenv(EnvBinary, plain)
	if _, err := Lookup(root); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("non-executable $%s: err = %v, want ErrNotInstalled", EnvBinary, err)
	}
	// Binary must not start a build when $CW_INFLUXD is wrong.
	if _, err := Binary(t.Context(), root); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Binary with bad $%s: err = %v, want ErrNotInstalled", EnvBinary, err)
	}
}

func TestRenderConfig(t *testing.T) {
	conf := renderConfig(layoutOf("/data"), 18086, 18088)
	for _, want := range []string{
		"reporting-disabled = true",
		`bind-address = "127.0.0.1:18088"`,
		`bind-address = "127.0.0.1:18086"`,
		`dir = "/data/meta"`,
		`dir = "/data/data"`,
		`wal-dir = "/data/wal"`,
		"auth-enabled = false",
		"store-enabled = false",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}
