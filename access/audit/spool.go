package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"time"
)

// The writer's local buffer ("spool") is a text file of one record per
// line: 8 hex digits of the CRC-32C of the JSON, a space, the JSON, "\n".
// Lines make a corrupt record easy to set aside: the next line starts
// afresh, so one bad record never takes those after it along.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spoolRecord is a Record on disk; the time as Unix nanoseconds, exactly.
type spoolRecord struct {
	Chain     string `json:"chain"`
	Seq       int64  `json:"seq"`
	At        int64  `json:"at"`
	Actor     string `json:"actor"`
	ActorName string `json:"actor_name,omitempty"`
	ActorRole string `json:"actor_role,omitempty"`
	Action    string `json:"action"`
	Facility  string `json:"facility,omitempty"`
	Region    string `json:"region,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Detail    string `json:"detail"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
}

func encodeLine(r Record) ([]byte, error) {
	b, err := json.Marshal(spoolRecord{r.Chain, r.Seq, r.Time.UnixNano(), r.Actor, r.ActorName, r.ActorRole, r.Action,
		r.Facility, r.Region, r.Subject, r.Detail, r.Prev, r.Hash})
	if err != nil {
		return nil, err
	}
	var crc [4]byte
	c := crc32.Checksum(b, castagnoli)
	crc[0], crc[1], crc[2], crc[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	line := make([]byte, 0, len(b)+10)
	line = append(line, hex.EncodeToString(crc[:])...)
	line = append(line, ' ')
	line = append(line, b...)
	return append(line, '\n'), nil
}

func decodeLine(line []byte) (Record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) < 10 || line[8] != ' ' {
		return Record{}, errors.New("malformed line")
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return Record{}, errors.New("malformed checksum")
	}
	body := line[9:]
	if uint64(crc32.Checksum(body, castagnoli)) != want {
		return Record{}, errors.New("checksum mismatch")
	}
	var s spoolRecord
	if err := json.Unmarshal(body, &s); err != nil {
		return Record{}, err
	}
	r := Record{s.Chain, s.Seq, time.Unix(0, s.At).UTC(), s.Actor, s.ActorName, s.ActorRole, s.Action,
		s.Facility, s.Region, s.Subject, s.Detail, s.Prev, s.Hash}
	if r.ComputeHash() != r.Hash {
		return Record{}, errors.New("record hash mismatch")
	}
	return r, nil
}

// badLine is a spool line that did not decode. torn: it is the last line
// and has no end of line, a write cut short by a crash (the Append that
// wrote it never returned); otherwise the line is corrupt.
type badLine struct {
	offset int64
	data   []byte
	err    error
	torn   bool
}

// readSpool reads every line of path: the good records, and the bad lines.
// A bad line never hides the lines after it.
func readSpool(path string) (recs []Record, bad []badLine, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var off int64
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, nil, rerr
		}
		if len(line) > 0 {
			rec, derr := decodeLine(line)
			complete := line[len(line)-1] == '\n'
			switch {
			case derr == nil && complete:
				recs = append(recs, rec)
			case !complete:
				bad = append(bad, badLine{offset: off, data: line, err: errors.New("torn: no end of line"), torn: true})
			default:
				bad = append(bad, badLine{offset: off, data: line, err: derr})
			}
			off += int64(len(line))
		}
		if rerr == io.EOF {
			return recs, bad, nil
		}
	}
}

// quarantineLines appends bad lines, each with its offset and error, to
// the quarantine file beside the spool, fsynced. Nothing is deleted.
func quarantineLines(path string, bad []badLine, now time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintf(f, "# %s offset %d: %v\n", now.UTC().Format(time.RFC3339Nano), b.offset, b.err)
		f.Write(b.data)
		if len(b.data) == 0 || b.data[len(b.data)-1] != '\n' {
			f.Write([]byte("\n"))
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
