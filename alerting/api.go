package alerting

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

// maxAPIBody bounds request bodies of the HTTP API.
const maxAPIBody = 4096

type ackRequest struct {
	fingerprint, actor string
	done               chan error
}

// ackHandler serves POST /api/v1/ack {"code"|"fingerprint", "actor"}: the
// notification path stops escalating and the engine records the
// acknowledgement with its actor. Authentication belongs in front of it.
func (s *Service) ackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code        string `json:"code"`
			Fingerprint string `json:"fingerprint"`
			Actor       string `json:"actor"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Actor) == "" || (req.Code == "" && req.Fingerprint == "") {
			http.Error(w, "bad request: want {\"code\" or \"fingerprint\", \"actor\"}", http.StatusBadRequest)
			return
		}
		ref := req.Fingerprint
		if ref == "" {
			ref = req.Code
		}
		a, err := s.disp.Ack(ref, req.Actor, "http")
		fp := a.Fingerprint
		switch {
		case err == nil:
			// OnAck has told the engine.
		case errors.Is(err, notify.ErrUnknownAck) && req.Fingerprint != "":
			// Not escalating (never announced, or already resolved): the
			// engine may still know it.
			fp = req.Fingerprint
			done := make(chan error, 1)
			select {
			case s.acks <- ackRequest{fingerprint: fp, actor: req.Actor, done: done}:
			case <-r.Context().Done():
				return
			}
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, rules.ErrNotFiring) {
					http.Error(w, err.Error(), http.StatusNotFound)
					return
				}
			case <-r.Context().Done():
				return
			}
		default:
			http.Error(w, "no open alert for that code or fingerprint", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"fingerprint": fp, "acknowledged": true})
	})
}

// alertsHandler serves GET /api/v1/alerts: the alerts the engine holds,
// optionally only those of a region (?region=110105: a province, city,
// county or street code, matched as a prefix of the facility's 9-digit
// street code, the same scoping the regulators' dashboards use) and of a
// state (?state=firing). The alert console builds on this.
func (s *Service) alertsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, ok := regionFilter(r.URL.Query().Get("region"))
		if !ok {
			http.Error(w, "bad request: region must be a 6-digit division code or a 9-digit street code", http.StatusBadRequest)
			return
		}
		state := r.URL.Query().Get("state")
		reply := make(chan []rules.Alert, 1)
		select {
		case s.queries <- reply:
		case <-r.Context().Done():
			return
		}
		var alerts []rules.Alert
		select {
		case alerts = <-reply:
		case <-r.Context().Done():
			return
		}
		out := make([]rules.Alert, 0, len(alerts))
		snap := s.reg.Snapshot()
		for _, a := range alerts {
			// The facility's registered region, never one a gateway claims.
			// (An alert of a facility gone from the registry shows only
			// country-wide.)
			f := snap.Facility(a.Facility)
			if (f == nil && region.Level() != model.LevelCountry) || (f != nil && !region.Contains(f.Region)) {
				continue
			}
			if state != "" && a.State.String() != state {
				continue
			}
			out = append(out, a)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}

// regionFilter reads the region parameter: a division code, or nothing
// for the whole country.
func regionFilter(code string) (model.RegionCode, bool) {
	if code == "" {
		return model.Nationwide(), true
	}
	c, err := model.ParseRegionCode(code)
	return c, err == nil
}
