package notify

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
	"time"
)

// Outcomes written to the notification log.
const (
	OutcomeSent      = "sent"      // delivered on Channel (possibly a fallback)
	OutcomeSilenced  = "silenced"  // matched a maintenance window; nothing sent
	OutcomeDead      = "dead"      // every channel failed: dead letter
	OutcomeExhausted = "exhausted" // a provider said the number's budget is spent
	OutcomeAcked     = "acked"     // acknowledgement with its actor
)

// LogEntry is one record of the notification log. It holds no phone
// numbers: budgets are keyed by a hash of the number.
type LogEntry struct {
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
	Key       string    `json:"key,omitempty"` // dedup key: episode, state, recipient, step, repeat
	Alert     string    `json:"alert,omitempty"`
	Facility  string    `json:"facility,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	Channel   Channel   `json:"channel,omitempty"`
	PhoneKey  string    `json:"phone_key,omitempty"`
	Fallback  bool      `json:"fallback,omitempty"` // delivered on a fallback channel
	Detail    string    `json:"detail,omitempty"`   // error, silence reason, actor
}

// ErrCorruptLog reports that the log's tail was torn or corrupt and was
// truncated at the first bad record.
var ErrCorruptLog = errors.New("notification log: corrupt record")

// nflog is the notification log: append-only lines "crc32c-hex json\n",
// each appended with an fsync, so dedup survives restarts. Notifications
// are tens per day, so fsync per record costs nothing that matters.
type nflog struct {
	f    *os.File
	sent map[string]bool // dedup keys already final (sent or dead)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openNflog reads path, truncating at the first corrupt record, and calls
// replay for each good entry. The error ErrCorruptLog (wrapped) is returned
// together with a usable log when a tail was cut.
func openNflog(path string, replay func(LogEntry)) (*nflog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nflog: open %s: %w", path, err)
	}
	l := &nflog{f: f, sent: map[string]bool{}}
	var good int64
	var corrupt error
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		e, perr := parseRecord(line)
		if err != nil || perr != nil {
			corrupt = fmt.Errorf("%w at offset %d of %s", ErrCorruptLog, good, path)
			break
		}
		good += int64(len(line))
		l.note(e)
		if replay != nil {
			replay(e)
		}
	}
	if corrupt != nil {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("nflog: truncate %s: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("nflog: seek %s: %w", path, err)
	}
	return l, corrupt
}

func parseRecord(line []byte) (LogEntry, error) {
	var e LogEntry
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) < 10 || line[8] != ' ' {
		return e, ErrCorruptLog
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return e, ErrCorruptLog
	}
	body := line[9:]
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.Checksum(body, castagnoli) != want {
		return e, ErrCorruptLog
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, ErrCorruptLog
	}
	return e, nil
}

func (l *nflog) note(e LogEntry) {
	if e.Key != "" && (e.Outcome == OutcomeSent || e.Outcome == OutcomeDead) {
		l.sent[e.Key] = true
	}
}

// done reports whether key already reached a final outcome.
func (l *nflog) done(key string) bool { return l.sent[key] }

// append writes and fsyncs e.
func (l *nflog) append(e LogEntry) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("nflog: encode: %w", err)
	}
	rec := make([]byte, 0, len(body)+10)
	rec = fmt.Appendf(rec, "%08x ", crc32.Checksum(body, castagnoli))
	rec = append(rec, body...)
	rec = append(rec, '\n')
	if _, err := l.f.Write(rec); err != nil {
		return fmt.Errorf("nflog: append: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("nflog: fsync: %w", err)
	}
	l.note(e)
	return nil
}

func (l *nflog) close() error { return l.f.Close() }
