package notify

import (
	"time"

	"github.com/cradlewatch/cradlewatch/internal/shortlink"
)

// Links signs the console's short links to alerts (internal/shortlink), so
// a message opens its alert in the console. The link is no credential: the
// console still asks for a login and authorises the person.
type Links struct {
	Signer  *shortlink.Signer
	BaseURL string        // the console's public address, no trailing slash
	TTL     time.Duration // how long a link opens its alert; 0: shortlink.DefaultTTL
}

// For returns the link to alert a signed at now, and its token alone (the
// part after the fixed https://<console>/a/ of an approved SMS template).
// Both are empty when l is nil or the alert cannot be linked.
func (l *Links) For(a Alert, now time.Time) (link, token string) {
	if l == nil || l.Signer == nil {
		return "", ""
	}
	ttl := l.TTL
	if ttl <= 0 {
		ttl = shortlink.DefaultTTL
	}
	tok, err := l.Signer.Sign(shortlink.Link{Facility: a.Facility, Fingerprint: a.Fingerprint, Expires: now.Add(ttl)})
	if err != nil {
		return "", "" // a fingerprint of another shape (tests, tools): no link rather than no message
	}
	return l.BaseURL + shortlink.Path(tok), tok
}
