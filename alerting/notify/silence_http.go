package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// MaxSilenceLength bounds a silence added over HTTP: a maintenance window
// that is forgotten must not mute a facility's safety alerts for good.
// Longer windows go in the configuration file, where they are reviewed.
const MaxSilenceLength = 7 * 24 * time.Hour

// ErrSilenceTooLong rejects a run-time silence longer than MaxSilenceLength.
var ErrSilenceTooLong = errors.New("silence longer than the run-time maximum")

// SilenceRequest is the body of POST /api/v1/silences. Start defaults to
// now; who set it and why are required and kept for the regulator.
type SilenceRequest struct {
	Facility  string    `json:"facility"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end"`
	CreatedBy string    `json:"created_by"`
	Reason    string    `json:"reason"`
}

// SilencesHandler serves /api/v1/silences:
//
//   - POST {facility, start?, end, created_by, reason} adds a silence and
//     answers 201 with it (its id included); 400 names what is wrong.
//   - GET lists silences sorted by start; ?facility= keeps one facility's,
//     ?active=true only those not yet ended.
//
// Authentication belongs in front of it, as for the ack endpoint.
func (d *Dispatcher) SilencesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			d.listSilences(w, r)
		case http.MethodPost:
			d.postSilence(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

func (d *Dispatcher) postSilence(w http.ResponseWriter, r *http.Request) {
	var req SilenceRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAckBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		d.metrics.silenceRequests.WithLabelValues("rejected").Inc()
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	s := Silence{Facility: strings.TrimSpace(req.Facility), Start: req.Start, End: req.End,
		CreatedBy: strings.TrimSpace(req.CreatedBy), Reason: strings.TrimSpace(req.Reason)}
	if s.Start.IsZero() {
		s.Start = d.clock.Now()
	}
	if s.End.Sub(s.Start) > MaxSilenceLength {
		d.metrics.silenceRequests.WithLabelValues("rejected").Inc()
		http.Error(w, fmt.Sprintf("bad request: %v (%s)", ErrSilenceTooLong, MaxSilenceLength), http.StatusBadRequest)
		return
	}
	s, err := d.addSilence(s)
	var ve *silenceError
	switch {
	case errors.As(err, &ve):
		d.metrics.silenceRequests.WithLabelValues("rejected").Inc()
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		d.metrics.silenceRequests.WithLabelValues("failed").Inc()
		d.logger.Error("silence not saved", "err", err)
		http.Error(w, "silence not saved", http.StatusInternalServerError)
		return
	}
	d.metrics.silenceRequests.WithLabelValues("added").Inc()
	d.logger.Info("silence added", "id", s.ID, "facility", s.Facility, "start", s.Start, "end", s.End,
		"created_by", s.CreatedBy, "reason", s.Reason)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(s)
}

func (d *Dispatcher) listSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	facility, active := q.Get("facility"), q.Get("active") == "true"
	now := d.clock.Now()
	out := []Silence{} // "[]", not "null", for an empty list
	for _, s := range d.Silences() {
		if facility != "" && s.Facility != facility || active && !now.Before(s.End) {
			continue
		}
		out = append(out, s)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Silences returns the configured and run-time silences, sorted by start.
func (d *Dispatcher) Silences() []Silence {
	d.mu.Lock()
	out := slices.Clone(d.silences)
	d.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Silence) int { return a.Start.Compare(b.Start) })
	return out
}
