package influxd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the module whose go.mod marks the repository root.
const ModulePath = "github.com/cradlewatch/cradlewatch"

// InstallPackage is what `go install` builds when no influxd binary is found.
// 1.8.3 is the release the collector is written and tested against.
const InstallPackage = "github.com/influxdata/influxdb/cmd/influxd@v1.8.3"

// EnvBinary names the environment variable that points at an influxd
// executable and takes precedence over the repository's cache.
const EnvBinary = "CW_INFLUXD"

// CacheBin is where, relative to the repository root, scripts and Binary
// install tool binaries. The folder is git-ignored.
const CacheBin = ".cache/bin"

// ErrNotInstalled says that no influxd executable was found; Lookup returns
// it (wrapped) so callers can decide to skip rather than build.
var ErrNotInstalled = errors.New("influxd: not installed")

// RepoRoot returns the directory holding the go.mod of ModulePath, walking up
// from the working directory. Tests run in their package's directory, so
// this is how they find the repository's cache and deploy files.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("influxd: repo root: %w", err)
	}
	return repoRootFrom(wd)
}

func repoRootFrom(dir string) (string, error) {
	for d := filepath.Clean(dir); ; {
		mod, err := moduleOf(filepath.Join(d, "go.mod"))
		if err == nil && mod == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("influxd: no go.mod of module %s in %s or above", ModulePath, dir)
		}
		d = parent
	}
}

// moduleOf reads the module path from a go.mod file.
func moduleOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			if i := strings.Index(rest, "//"); i >= 0 {
				rest = rest[:i]
			}
			return strings.Trim(strings.TrimSpace(rest), `"`+"`"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no module line", path)
}

// Lookup returns the influxd executable without building anything:
// $CW_INFLUXD if set (it must exist), else <repoRoot>/.cache/bin/influxd.
// When neither exists the error wraps ErrNotInstalled.
func Lookup(repoRoot string) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: $%s=%s: %v", ErrNotInstalled, EnvBinary, p, err)
		}
		return p, nil
	}
	p := filepath.Join(repoRoot, CacheBin, "influxd")
	if err := executable(p); err != nil {
		return "", fmt.Errorf("%w: %s: %v (run scripts/install-deps.sh)", ErrNotInstalled, p, err)
	}
	return p, nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("not an executable file")
	}
	return nil
}

// Binary returns the influxd executable like Lookup, and when none is found
// builds it with `go install InstallPackage` into <repoRoot>/.cache/bin,
// which takes about a minute and needs the module proxy. A $CW_INFLUXD that
// points nowhere is an error, not a reason to build. Progress is logged on
// slog.Default, since the call has no logger of its own.
func Binary(ctx context.Context, repoRoot string) (string, error) {
	p, err := Lookup(repoRoot)
	if err == nil || os.Getenv(EnvBinary) != "" {
		return p, err
	}
	dst := filepath.Join(repoRoot, CacheBin, "influxd")
	slog.Default().Info("influxd not found; building it with go install, this takes about a minute",
		"package", InstallPackage, "dest", dst)
	if err := install(ctx, repoRoot, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// install builds into a private temporary GOBIN and renames the result into
// place, so that test processes racing to install never run a half-written
// executable.
func install(ctx context.Context, repoRoot, dst string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("influxd: install: go tool not on PATH: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("influxd: install: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".install-")
	if err != nil {
		return fmt.Errorf("influxd: install: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, goTool, "install", InstallPackage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("influxd: go install %s: %w\n%s", InstallPackage, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "influxd"), dst); err != nil {
		return fmt.Errorf("influxd: install: %w", err)
	}
	return nil
}
