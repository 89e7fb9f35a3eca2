package spotcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishedReproducer runs the Python program of docs/console.md on
// the golden draw: the documentation alone is enough to check a draw.
func TestPublishedReproducer(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "console.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- spotcheck-reproduce.py -->\n```python\n")
	program, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("docs/console.md has no spotcheck-reproduce.py listing")
	}
	script := filepath.Join(t.TempDir(), "reproduce.py")
	if err := os.WriteFile(script, []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, filepath.Join("testdata", "draw.golden.json")).CombinedOutput()
	if err != nil || !bytes.HasSuffix(bytes.TrimSpace(out), []byte("reproduced")) {
		t.Fatalf("the documented program does not reproduce the golden draw: %v\n%s", err, out)
	}
	// And it notices a changed team.
	golden, _ := os.ReadFile(filepath.Join("testdata", "draw.golden.json"))
	d, err := ReadDraw(bytes.NewReader(golden))
	if err != nil {
		t.Fatal(err)
	}
	first := d.Selected[0].Inspectors[0]
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	changed := bytes.Replace(golden, []byte("\"inspectors\": [\n        \""+first), []byte("\"inspectors\": [\n        \"x"+first), 1)
	if bytes.Equal(changed, golden) {
		t.Fatal("could not change the golden draw's first team")
	}
	if err := os.WriteFile(tampered, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, script, tampered).CombinedOutput(); err == nil {
		t.Errorf("the documented program accepts a changed team:\n%s", out)
	}
}
