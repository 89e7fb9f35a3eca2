package recordlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// quarantineHead is the offset (uint64) and the kind (uint8) in front of
// the bytes of each quarantine record.
const quarantineHead = 9

// Quarantined is one piece of damage kept in a quarantine file.
type Quarantined struct {
	Offset int64 // where the bytes were in the log
	Kind   Kind
	Bytes  []byte
}

// appendQuarantine adds the damaged regions of b to the quarantine file at
// path (created with the log header if new) and fsyncs it. A region longer
// than a record is split; each piece carries its own offset.
func appendQuarantine(path string, b []byte, regions []Region, maxRecord int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("recordlog: quarantine: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("recordlog: quarantine: %w", err)
	}
	var buf []byte
	if st.Size() == 0 {
		buf = append(buf, Header...)
	}
	piece := maxRecord - quarantineHead
	for _, r := range regions {
		for start := r.Offset; start < r.Offset+r.Len; start += int64(piece) {
			end := min(start+int64(piece), r.Offset+r.Len)
			rec := make([]byte, quarantineHead, quarantineHead+int(end-start))
			binary.LittleEndian.PutUint64(rec[0:8], uint64(start))
			rec[8] = byte(r.Kind)
			rec = append(rec, b[start:end]...)
			buf = appendFrame(buf, rec)
		}
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("recordlog: quarantine %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("recordlog: quarantine %s: fsync: %w", path, err)
	}
	return f.Close()
}

// ReadQuarantine returns what Open quarantined next to the log at logPath,
// oldest first (nothing when there is no quarantine file).
func ReadQuarantine(logPath string) ([]Quarantined, error) {
	b, err := os.ReadFile(logPath + QuarantineSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recordlog: %w", err)
	}
	// Pieces are bounded by the quarantined log's MaxRecord, which this
	// reader does not know; the file's size bounds them anyway.
	const anyLen = 1<<31 - 1
	var out []Quarantined
	for off := nextRecord(b, 0, anyLen); off >= 0; off = nextRecord(b, off, anyLen) {
		data, n, _ := recordAt(b, off, anyLen)
		off += n
		if len(data) < quarantineHead {
			continue
		}
		out = append(out, Quarantined{Offset: int64(binary.LittleEndian.Uint64(data[0:8])), Kind: Kind(data[8]),
			Bytes: append([]byte(nil), data[quarantineHead:]...)})
	}
	return out, nil
}
