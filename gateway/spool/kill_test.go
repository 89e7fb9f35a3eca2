package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv names the spool directory for the child process of
// TestKillMidWrite; when set, TestKillChild appends until it is killed.
const childEnv = "CW_SPOOL_KILL_CHILD_DIR"

// TestKillChild is the child half of TestKillMidWrite: it appends records
// continuously and prints "index hexdata" for each whose done callback ran,
// i.e. each the spool reported durable.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestKillMidWrite")
	}
	s, err := Open(Options{Dir: dir, SegmentBytes: 4096, MaxBytes: 1 << 30, CommitInterval: time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	// A safety net so an orphaned child cannot run forever; the parent
	// kills it long before.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go s.Run(ctx)
	pid := os.Getpid()
	for seq := 0; ctx.Err() == nil; seq++ {
		// Varying sizes so kills land in headers, data and segment headers.
		data := fmt.Appendf(nil, "%d-%d-%s", pid, seq, strings.Repeat("x", seq%97))
		s.Append([][]byte{data}, func(first uint64, err error) {
			if err != nil {
				return
			}
			os.Stdout.Write(fmt.Appendf(nil, "%d %x\n", first, data))
		})
	}
	os.Exit(0)
}

// TestKillMidWrite SIGKILLs a child that is appending and checks that every
// record it reported durable survives with intact data, and that the spool
// then opens and continues.
func TestKillMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary; skipped with -short")
	}
	dir := t.TempDir()
	acked := map[uint64][]byte{}
	const rounds = 4
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Kill after a different number of acknowledgements each round.
		killAfter := 300 + 577*round
		lines := 0
		for sc.Scan() {
			if lines++; lines == killAfter {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			index, data, ok := parseAck(sc.Text())
			if !ok {
				continue // the last line may be cut by the kill
			}
			acked[index] = data
		}
		cmd.Wait()
		if lines < killAfter {
			t.Fatalf("round %d: child printed %d lines before exiting: %s", round, lines, stderr.String())
		}

		s, err := Open(Options{Dir: dir, SegmentBytes: 4096, MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		recs, err := s.Read(0, 0, 0)
		if err != nil {
			t.Fatalf("round %d: Read: %v", round, err)
		}
		got := make(map[uint64][]byte, len(recs))
		for i, r := range recs {
			if i > 0 && r.Index != recs[i-1].Index+1 {
				t.Errorf("round %d: index %d follows %d", round, r.Index, recs[i-1].Index)
			}
			got[r.Index] = r.Data
		}
		for index, data := range acked {
			if g, ok := got[index]; !ok || !bytes.Equal(g, data) {
				t.Fatalf("round %d: acknowledged record %d = %q (present %v), want %q", round, index, g, ok, data)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged, %d on disk", round, len(acked), len(recs))
	}
}

// parseAck parses a child's "index hexdata" line.
func parseAck(line string) (uint64, []byte, bool) {
	a, b, ok := strings.Cut(line, " ")
	if !ok {
		return 0, nil, false
	}
	index, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	data, err := hex.DecodeString(b)
	if err != nil {
		return 0, nil, false
	}
	return index, data, true
}
