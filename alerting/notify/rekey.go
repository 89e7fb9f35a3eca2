package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/cradlewatch/cradlewatch/access/audit"
)

// Earlier releases keyed phone numbers in notify's state (the notification
// log's phone_key, SMS budgets, the outbox's recipients without an id and
// legacy sms_to lists) by an unsalted hash: SHA-256 of a fixed prefix and
// the number, which anyone can reverse by hashing the 10^10 mainland
// numbers. They are keyed now by access/audit.PhoneKeyer (HMAC under the
// deployment's phone key). At start, state in the old form is re-keyed
// once: the old hash of every number the service knows (the registry's
// operators, the directory, platform contacts) is replaced by its keyed
// pseudonym, and old hashes of numbers it no longer knows are dropped (a
// number that left the directory receives nothing more, and its budget and
// replies are moot). The notification log is rewritten then; the outbox is
// compacted at every start and so written re-keyed. docs/alerting.md,
// "Phone numbers", says the same.

// legacyKeyLen is the length of an old hash: 12 bytes in hex.
const legacyKeyLen = 24

// forgottenRecipient replaces the recipient id of a number that was keyed
// the old way and is no longer known.
const forgottenRecipient = "phone:forgotten"

// legacyPhoneKey is the old unsalted hash of a number.
func legacyPhoneKey(p string) string {
	p = strings.TrimSpace(p)
	for _, pre := range []string{"+86", "0086", "86"} {
		if strings.HasPrefix(p, pre) && len(p)-len(pre) == 11 {
			p = p[len(pre):]
			break
		}
	}
	sum := sha256.Sum256([]byte("cradlewatch-phone:" + p))
	return hex.EncodeToString(sum[:12])
}

func isLegacyKey(s string) bool {
	if len(s) != legacyKeyLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// rekeyer maps old hashes to keyed pseudonyms and counts what it did.
type rekeyer struct {
	m                map[string]string // old hash → pseudonym
	rekeyed, dropped int
}

func newRekeyer(k *audit.PhoneKeyer, phones []string) *rekeyer {
	r := &rekeyer{m: map[string]string{}}
	for _, p := range phones {
		if p != "" {
			r.m[legacyPhoneKey(p)] = k.Key(p)
		}
	}
	return r
}

// knownPhones are the numbers of fn and of the configured directory.
func (d *Dispatcher) knownPhones(fn func() []string) []string {
	var out []string
	if fn != nil {
		out = fn()
	}
	for _, group := range []map[string][]Contact{d.cfg.Directory.Operators, d.cfg.Directory.Regions} {
		for _, cs := range group {
			for _, c := range cs {
				out = append(out, c.Phone)
			}
		}
	}
	return out
}

func (r *rekeyer) counts() (rekeyed, dropped int) {
	if r == nil {
		return 0, 0
	}
	return r.rekeyed, r.dropped
}

// phoneKey maps an old hash; a pseudonym or "" passes unchanged. An old
// hash of an unknown number becomes "".
func (r *rekeyer) phoneKey(s string) string {
	if !isLegacyKey(s) {
		return s
	}
	if k, ok := r.m[s]; ok {
		r.rekeyed++
		return k
	}
	r.dropped++
	return ""
}

// recipient maps a recipient id "phone:<old hash>".
func (r *rekeyer) recipient(id string) string {
	old, ok := strings.CutPrefix(id, "phone:")
	if !ok || !isLegacyKey(old) {
		return id
	}
	if k := r.phoneKey(old); k != "" {
		return "phone:" + k
	}
	return forgottenRecipient
}

// noticeKey maps the recipient at the end of a notice key.
func (r *rekeyer) noticeKey(key string) string {
	i := strings.LastIndexByte(key, '|')
	if i < 0 {
		return key
	}
	return key[:i+1] + r.recipient(key[i+1:])
}

// entries re-keys es in place and reports whether anything changed.
func (r *rekeyer) entries(es []LogEntry) bool {
	if r == nil {
		return false
	}
	changed := false
	for i := range es {
		e := &es[i]
		pk, rid, key := r.phoneKey(e.PhoneKey), r.recipient(e.Recipient), r.noticeKey(e.Key)
		if pk != e.PhoneKey || rid != e.Recipient || key != e.Key {
			e.PhoneKey, e.Recipient, e.Key = pk, rid, key
			changed = true
		}
	}
	return changed
}

// loaded re-keys what the outbox held: who each open escalation reached,
// the numbers it was sent by SMS (the old sms_to list), and the pending
// notices' recipients.
func (r *rekeyer) loaded(ld *loaded) {
	if r == nil {
		return
	}
	for _, s := range ld.open {
		for i, id := range s.Reached {
			s.Reached[i] = r.recipient(id)
		}
		var to []string
		for _, pk := range s.SMSTo {
			if k := r.phoneKey(pk); k != "" {
				to = append(to, k)
			}
		}
		s.SMSTo = to
	}
	for key, n := range ld.pending {
		nk := r.noticeKey(key)
		if nk == key {
			continue
		}
		delete(ld.pending, key)
		n.Key, n.Recipient = nk, r.recipient(n.Recipient)
		ld.pending[nk] = n
	}
}
