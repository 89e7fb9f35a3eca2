package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaskPhone hides the middle of a phone number for logs: "13812341234"
// becomes "138****1234", "+8613812341234" becomes "+86138****1234". Short
// or odd strings are masked whole so nothing personal leaks by accident.
func MaskPhone(p string) string {
	if p == "" {
		return ""
	}
	prefix := ""
	switch {
	case strings.HasPrefix(p, "+86"):
		prefix, p = "+86", p[3:]
	case strings.HasPrefix(p, "0086"):
		prefix, p = "0086", p[4:]
	}
	if len(p) < 7 {
		return prefix + "****"
	}
	return prefix + p[:3] + "****" + p[len(p)-4:]
}

// phoneKey is the stable, non-reversible key under which a number's budget
// is kept in memory and on disk: state files hold no phone numbers.
func phoneKey(p string) string {
	p = normalizePhone(p)
	sum := sha256.Sum256([]byte("cradlewatch-phone:" + p))
	return hex.EncodeToString(sum[:12])
}

// normalizePhone strips the country prefix of mainland numbers so that
// "+8613812341234" and "13812341234" share one budget.
func normalizePhone(p string) string {
	p = strings.TrimSpace(p)
	for _, pre := range []string{"+86", "0086", "86"} {
		if strings.HasPrefix(p, pre) && len(p)-len(pre) == 11 {
			return p[len(pre):]
		}
	}
	return p
}
