// Package httpx posts JSON for the HTTP-based notifiers and classifies the
// outcome the same way for all of them.
package httpx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// MaxResponse bounds how much of a response is read.
const MaxResponse = 64 << 10

// Post sends body to url with headers. A transport error or a non-2xx
// status becomes a classified error; on 2xx the body is returned.
func Post(ctx context.Context, c *http.Client, ch notify.Channel, url string, header http.Header, body []byte) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("%s: request: %w", ch, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		// The error text may carry the URL with its access token; keep only the cause.
		return nil, notify.Retryable(err), fmt.Errorf("%s: post: %w", ch, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		pe := &notify.ProviderError{Channel: ch, Kind: notify.StatusKind(resp.StatusCode), Status: resp.StatusCode, Message: short(b)}
		return b, pe.Kind == notify.Transient, pe
	}
	return b, false, nil
}

func unwrapURL(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

func short(b []byte) string {
	if len(b) > 200 {
		return string(b[:200])
	}
	return string(b)
}
