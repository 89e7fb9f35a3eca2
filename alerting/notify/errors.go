package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// ErrBudgetExhausted is matched (errors.Is) by a provider's answer that the
// number has used its allowance (Aliyun isv.BUSINESS_LIMIT_CONTROL, Tencent
// LimitExceeded.*). The path switches that number to a fallback channel.
var ErrBudgetExhausted = errors.New("per-number SMS budget exhausted")

// ErrorKind tells the path what to do with a failed delivery.
type ErrorKind int

const (
	// Transient failures may succeed when tried again later.
	Transient ErrorKind = iota
	// Permanent failures will fail again; do not retry.
	Permanent
	// Budget failures mean the provider refuses this number for now.
	Budget
)

// ProviderError is a provider's refusal, classified.
type ProviderError struct {
	Channel Channel
	Kind    ErrorKind
	Code    string // provider's error code, e.g. "isv.BUSINESS_LIMIT_CONTROL"
	Status  int    // HTTP status, when known
	Message string
	// Unanswered: the failure includes one where no answer came (a
	// timeout), so the provider may have taken the message (Failover sets
	// it when any of its providers failed so).
	Unanswered bool
}

// Error describes the refusal without the recipient's address.
func (e *ProviderError) Error() string {
	kind := map[ErrorKind]string{Transient: "transient", Permanent: "permanent", Budget: "budget"}[e.Kind]
	return fmt.Sprintf("%s: %s error: code=%q status=%d: %s", e.Channel, kind, e.Code, e.Status, e.Message)
}

// Is makes errors.Is(err, ErrBudgetExhausted) hold for budget answers.
func (e *ProviderError) Is(target error) bool {
	return target == ErrBudgetExhausted && e.Kind == Budget
}

// answered reports whether err is the provider's own refusal: it did not
// take the message. Transport failures (a timeout, a reset connection) are
// not: the message may have arrived and the answer been lost.
func answered(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && !pe.Unanswered
}

// Retryable reports whether an error from a transport (not a provider
// answer) is worth another attempt: timeouts, refused or reset connections.
// Context cancellation by the caller is not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// StatusKind classifies an HTTP status from a provider: 5xx and 429 are
// transient, other non-2xx permanent.
func StatusKind(status int) ErrorKind {
	if status >= 500 || status == 429 || status == 408 {
		return Transient
	}
	return Permanent
}
