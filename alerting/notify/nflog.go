package notify

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

// Outcomes written to the notification log.
const (
	OutcomeSent        = "sent"        // delivered on Channel (possibly a fallback)
	OutcomeFailed      = "failed"      // Channel gave up (after its retries); others may follow
	OutcomeSilenced    = "silenced"    // matched a maintenance window; nothing sent
	OutcomeDead        = "dead"        // every channel failed: dead letter
	OutcomeExhausted   = "exhausted"   // a provider said the number's budget is spent
	OutcomeAcked       = "acked"       // acknowledgement with its actor
	OutcomeCancelled   = "cancelled"   // dropped before sending: acknowledged or resolved first
	OutcomeUnannounced = "unannounced" // a resolution whose alert never reached the recipient: not sent
	OutcomeGone        = "gone"        // the recipient is no longer in the directory
	// OutcomeAttempt: the message is about to be handed to a provider that
	// can confirm what it took (a Confirmer), with Ref as its key. Until a
	// sent or failed entry of that channel follows, the delivery is in
	// doubt: the provider is asked before it is made again.
	OutcomeAttempt = "attempt"
)

// LogEntry is one outcome of the notification log. It holds no phone
// numbers: budgets and SMS replies are keyed by the number's keyed
// pseudonym (access/audit.PhoneKeyer).
type LogEntry struct {
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
	Key       string    `json:"key,omitempty"` // notice key: episode, kind, step, repeat, recipient
	Episode   string    `json:"episode,omitempty"`
	Kind      Kind      `json:"kind,omitempty"`
	Alert     string    `json:"alert,omitempty"`
	Facility  string    `json:"facility,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	Channel   Channel   `json:"channel,omitempty"`
	PhoneKey  string    `json:"phone_key,omitempty"`
	Fallback  bool      `json:"fallback,omitempty"` // delivered on a fallback channel
	// Partial: one channel's outcome; the notice is not finished (a
	// critical notice goes out on every channel the recipient has).
	Partial bool   `json:"partial,omitempty"`
	Detail  string `json:"detail,omitempty"` // error, silence reason, actor
	// Ref is the message key an attempt gave the provider (its OutId):
	// the notice's own key, or the leading notice's in a group.
	Ref string `json:"ref,omitempty"`
}

// Doubt is a delivery in doubt on one channel: handed to the provider
// under Ref at At, with no answer recorded.
type Doubt struct {
	Ref string
	At  time.Time
}

// final reports whether e finishes its notice.
func (e LogEntry) final() bool {
	if e.Partial || e.Key == "" {
		return false
	}
	switch e.Outcome {
	case OutcomeSent, OutcomeDead, OutcomeSilenced, OutcomeCancelled, OutcomeUnannounced, OutcomeGone:
		return true
	}
	return false
}

// nflog is the notification log (notifications.log): a record log whose
// records are JSON arrays of LogEntry, one record per event (a delivery on
// one channel covers every alert of its message, written at once). It
// drives dedup across restarts, tells which channels of a notice are done,
// whether a recipient was told of an episode (before its resolution goes
// out), which numbers were sent an episode by SMS (SMS replies), and
// rebuilds per-number SMS budgets.
type nflog struct {
	l  *recordlog.Log
	mu sync.Mutex // guards the maps: the sender and acknowledgements write

	finished  map[string]bool              // notice keys with a final outcome
	sentOn    map[string]map[Channel]bool  // notice key → channels it was delivered on
	failedOn  map[string]map[Channel]bool  // notice key → channels that gave up
	announced map[string]bool              // episode|recipient → a non-resolved notice was delivered
	smsTo     map[string]map[string]bool   // episode → phone keys sent it by SMS
	doubt     map[string]map[Channel]Doubt // notice key → channels with an attempt and no answer recorded

	compacted prometheus.Counter // records dropped by compaction (nflog_compact.go)
}

// openNflog opens path, converting a log in the line format used before
// the record log, re-keying phone hashes of earlier releases (rk, nil for
// none: rekey.go), and calls replay for each record's entries.
func openNflog(path string, logger *slog.Logger, reg prometheus.Registerer, replay func([]LogEntry), rk *rekeyer) (*nflog, error) {
	n := &nflog{finished: map[string]bool{}, sentOn: map[string]map[Channel]bool{}, failedOn: map[string]map[Channel]bool{}, announced: map[string]bool{},
		smsTo: map[string]map[string]bool{}, doubt: map[string]map[Channel]Doubt{}, compacted: newCompactedCounter(reg)}
	if err := convertLegacyNflog(path); err != nil {
		return nil, err
	}
	var err error
	var recs [][]byte // every record, kept to rewrite the log when re-keyed
	rekeyed := false
	n.l, err = recordlog.Open(recordlog.Options{Path: path, Name: "notify_log", Logger: logger, Registerer: reg}, func(b []byte) error {
		var es []LogEntry
		if err := json.Unmarshal(b, &es); err != nil {
			return err
		}
		if rk.entries(es) {
			rekeyed = true
			if b, err = json.Marshal(es); err != nil {
				return err
			}
		}
		recs = append(recs, append([]byte(nil), b...))
		n.note(es)
		if replay != nil {
			replay(es)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	if rekeyed {
		if err := n.l.Rewrite(recs); err != nil {
			n.l.Close()
			return nil, fmt.Errorf("nflog: rewrite re-keyed: %w", err)
		}
	}
	return n, nil
}

// note indexes es; the caller holds mu (or is Open, alone).
func (n *nflog) note(es []LogEntry) {
	for _, e := range es {
		if e.Key == "" {
			continue
		}
		if e.final() {
			n.finished[e.Key] = true
			delete(n.doubt, e.Key)
		}
		switch e.Outcome {
		case OutcomeAttempt:
			if n.doubt[e.Key] == nil {
				n.doubt[e.Key] = map[Channel]Doubt{}
			}
			n.doubt[e.Key][e.Channel] = Doubt{Ref: e.Ref, At: e.At}
			continue
		case OutcomeSent, OutcomeFailed:
			delete(n.doubt[e.Key], e.Channel)
			if len(n.doubt[e.Key]) == 0 {
				delete(n.doubt, e.Key)
			}
		}
		if e.Outcome == OutcomeFailed && e.Channel != "" {
			if n.failedOn[e.Key] == nil {
				n.failedOn[e.Key] = map[Channel]bool{}
			}
			n.failedOn[e.Key][e.Channel] = true
		}
		if e.Outcome != OutcomeSent {
			continue
		}
		if n.sentOn[e.Key] == nil {
			n.sentOn[e.Key] = map[Channel]bool{}
		}
		n.sentOn[e.Key][e.Channel] = true
		ep, kind, rid := e.Episode, e.Kind, e.Recipient
		if ep == "" || kind == "" { // written before these fields existed
			ep, kind, _ = parseKey(e.Key)
		}
		if kind != KindResolved {
			n.announced[ep+"|"+rid] = true
		}
		if e.Channel == ChannelSMS && e.PhoneKey != "" {
			if n.smsTo[ep] == nil {
				n.smsTo[ep] = map[string]bool{}
			}
			n.smsTo[ep][e.PhoneKey] = true
		}
	}
}

// parseKey splits a notice key into episode and kind.
func parseKey(key string) (episode string, kind Kind, ok bool) {
	parts := strings.SplitN(key, "|", 3)
	if len(parts) < 3 {
		return "", "", false
	}
	return parts[0], Kind(parts[1]), true
}

// done reports whether key already reached a final outcome.
func (n *nflog) done(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.finished[key]
}

// sent reports whether key was delivered on ch.
func (n *nflog) sent(key string, ch Channel) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sentOn[key][ch]
}

// failed reports whether key's delivery on ch gave up.
func (n *nflog) failed(key string, ch Channel) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.failedOn[key][ch]
}

// inDoubt reports the attempt on ch of key that has no answer recorded.
func (n *nflog) inDoubt(key string, ch Channel) (Doubt, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dt, ok := n.doubt[key][ch]
	return dt, ok
}

// told reports whether recipient rid was delivered a notice of episode
// other than its resolution.
func (n *nflog) told(episode, rid string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.announced[episode+"|"+rid]
}

// sentSMS reports whether the number with phone key pk was sent episode
// by SMS.
func (n *nflog) sentSMS(episode, pk string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.smsTo[episode][pk]
}

// append writes es as one record and fsyncs: a delivery is recorded before
// the next one is attempted, so a crash can repeat at most the delivery in
// flight.
func (n *nflog) append(es ...LogEntry) error {
	if len(es) == 0 {
		return nil
	}
	b, err := json.Marshal(es)
	if err != nil {
		return fmt.Errorf("nflog: encode: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.l.Append(b); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	n.note(es)
	return nil
}

func (n *nflog) close() error { return n.l.Close() }

// convertLegacyNflog rewrites a notification log in the line format used
// before the record log ("crc32c-hex json\n" per entry) as a record log,
// atomically, keeping its entries up to the first bad line.
func convertLegacyNflog(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || len(b) == 0 || bytes.HasPrefix(b, []byte(recordlog.Header)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var recs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), recordlog.DefaultMaxRecord)
	for sc.Scan() {
		line := sc.Bytes()
		var sum [4]byte
		if len(line) < 10 || line[8] != ' ' {
			break
		}
		if _, err := hex.Decode(sum[:], line[:8]); err != nil {
			break
		}
		body := line[9:]
		if crc32.Checksum(body, castagnoli) != uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) {
			break
		}
		var e LogEntry
		if json.Unmarshal(body, &e) != nil {
			break
		}
		rec, _ := json.Marshal([]LogEntry{e})
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil // not the legacy format: the record log decides what it is
	}
	l, err := recordlog.Open(recordlog.Options{Path: path + ".converting"}, nil)
	if err != nil {
		return fmt.Errorf("nflog: convert: %w", err)
	}
	if err := l.Rewrite(recs); err != nil {
		l.Close()
		return fmt.Errorf("nflog: convert: %w", err)
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("nflog: convert: %w", err)
	}
	if err := os.Rename(path+".converting", path); err != nil {
		return fmt.Errorf("nflog: convert: %w", err)
	}
	return fileutil.SyncDir(filepath.Dir(path))
}

// ReadLog returns the entries of the notification log at path, oldest
// first, for tools and tests: damage is reported in the error, and the
// entries around it are returned. It does not change the file.
func ReadLog(path string) ([]LogEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	var out []LogEntry
	err = recordlog.Scan(b, func(rec []byte) error {
		var es []LogEntry
		if err := json.Unmarshal(rec, &es); err != nil {
			return err
		}
		out = append(out, es...)
		return nil
	})
	return out, err
}
