// Command testsummary reads `go test -json` on standard input, prints the
// output go test would have printed, and ends with what ran: the tests that
// were skipped (with why), the slowest tests, and one closing line
// "N passed, N failed, N skipped". scripts/test.sh pipes the suite through
// it so that a reader of CI's log sees at once that the integration tests
// ran rather than skipped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type result struct {
	name    string
	elapsed float64
	skipMsg string
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var passed, failed, skipped []result
	lastOutput := map[string]string{} // test → its last output line (the skip reason)
	held := map[string][]string{}     // test → its output so far, printed if it fails
	pkgFailed := 0
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(out, string(line)) // not JSON: a build error, print as is
			continue
		}
		key := e.Package + "." + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				fmt.Fprint(out, e.Output)
				continue
			}
			held[key] = hold(held[key], e.Output)
			if t := strings.TrimSpace(e.Output); t != "" && !strings.HasPrefix(t, "---") && !strings.HasPrefix(t, "=== ") {
				lastOutput[key] = t
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					pkgFailed++
				}
				continue
			}
			if e.Action == "fail" {
				// What the test said (t.Error, t.Log, its logs) is
				// printed only when it failed, as go test does.
				for _, o := range held[key] {
					fmt.Fprint(out, o)
				}
			}
			delete(held, key)
			r := result{name: shortPkg(e.Package) + " " + e.Test, elapsed: e.Elapsed}
			switch e.Action {
			case "pass":
				passed = append(passed, r)
			case "fail":
				failed = append(failed, r)
			case "skip":
				r.skipMsg = lastOutput[key]
				skipped = append(skipped, r)
			}
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(out, "\nskipped tests (%d):\n", len(skipped))
		for _, r := range skipped {
			fmt.Fprintf(out, "  %s: %s\n", r.name, r.skipMsg)
		}
	}
	all := append(append([]result{}, passed...), failed...)
	sort.Slice(all, func(i, j int) bool { return all[i].elapsed > all[j].elapsed })
	fmt.Fprintln(out, "\nslowest tests:")
	for i := 0; i < len(all) && i < 10; i++ {
		fmt.Fprintf(out, "  %8s  %s\n", (time.Duration(all[i].elapsed * float64(time.Second))).Round(100*time.Millisecond), all[i].name)
	}
	if len(failed) > 0 {
		fmt.Fprintln(out, "\nfailed tests:")
		for _, r := range failed {
			fmt.Fprintf(out, "  %s\n", r.name)
		}
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped\n", len(passed), len(failed), len(skipped))
	if len(failed) > 0 || pkgFailed > 0 {
		return 1
	}
	return 0
}

// maxHeld bounds the output kept per running test: the last lines are the
// ones that say why it failed.
const maxHeld = 400

func hold(lines []string, line string) []string {
	if len(lines) == maxHeld {
		copy(lines, lines[1:])
		lines = lines[:maxHeld-1]
	}
	return append(lines, line)
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/cradlewatch/cradlewatch/")
}
