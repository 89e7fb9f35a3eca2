package spot

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func request() Request {
	req := Request{County: "110105", Period: "2026-06", SampleSize: 2, InspectorsPerFacility: 2, Parameters: DefaultParameters(),
		Inspectors: []Inspector{{ID: "ZF-1", Name: "甲"}, {ID: "ZF-2", Name: "乙"}, {ID: "ZF-3", Name: "丙"}}, Conflicts: []Conflict{{Inspector: "ZF-1", Facility: "110105001-0001"}}}
	for _, id := range []string{"110105001-0001", "110105001-0002", "110105002-0001", "110105003-0001"} {
		req.Candidates = append(req.Candidates, Record{Facility: id, NeverInspected: true, UnacknowledgedAlerts: len(id) % 3})
	}
	return req
}

// The drawer's draws reproduce from their seed, and tampering is caught.
func TestDrawReproducesAndTamperingFails(t *testing.T) {
	d := NewDrawer()
	doc, draw, err := d.Draw(request(), time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(draw.Selected) != 2 || len(draw.Seed.String()) != 64 {
		t.Fatalf("draw %+v", draw)
	}
	for _, s := range draw.Selected {
		if len(s.Inspectors) != 2 || s.Inspectors[0] == s.Inspectors[1] {
			t.Errorf("team %v", s.Inspectors)
		}
		for _, in := range s.Inspectors {
			if s.Facility == "110105001-0001" && in == "ZF-1" {
				t.Error("a recused inspector was drawn")
			}
		}
	}
	if err := d.Verify(doc); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var m map[string]any
	json.Unmarshal(doc, &m)
	m["seed"] = "00" + m["seed"].(string)[2:]
	forged, _ := json.Marshal(m)
	if d.Verify(forged) == nil {
		t.Error("a draw with another seed verifies")
	}
	req := request()
	req.Inspectors = req.Inspectors[:1]
	if _, _, err := d.Draw(req, time.Now()); !errors.Is(err, ErrNotEnoughInspectors) {
		t.Errorf("one inspector for teams of two: %v", err)
	}
}

func TestStoreOnSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	st, err := Open(ctx, db, "sqlite", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, db, "sqlite", nil); err != nil {
		t.Fatalf("second open migrates nothing: %v", err)
	}
	now := time.Now()
	st.PutInspector(ctx, "110105", InspectorRow{Inspector{ID: "ZF-1", Name: "甲"}, true}, now)
	st.PutInspector(ctx, "110105", InspectorRow{Inspector{ID: "ZF-1", Name: "甲乙"}, false}, now)
	ins, _ := st.Inspectors(ctx, "110105")
	if len(ins) != 1 || ins[0].Name != "甲乙" || ins[0].Active {
		t.Fatalf("inspectors %+v", ins)
	}
	if err := st.AddConflict(ctx, "110105", Conflict{Inspector: "ZF-1", Facility: "f1"}); err != nil || st.AddConflict(ctx, "110105", Conflict{Inspector: "ZF-1", Facility: "f1"}) != nil {
		t.Fatal("a recusal twice")
	}
	if err := st.InsertDraw(ctx, DrawRow{ID: "d1", County: "110105", DrawnAt: now, DrawnBy: "person:x", Seed: "s", Document: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := st.Draws(ctx, "1101", true); len(rows) != 0 {
		t.Error("an unpublished draw listed as published")
	}
	st.Publish(ctx, "d1", "person:x", now)
	st.Publish(ctx, "d1", "person:y", now.Add(time.Hour))
	if d, _ := st.Draw(ctx, "d1"); d.PublishedBy != "person:x" {
		t.Errorf("publishing again changed the first publication: %+v", d)
	}
	if err := st.Publish(ctx, "nope", "x", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("publishing nothing: %v", err)
	}
	st.PutResult(ctx, Result{DrawID: "d1", Facility: "f1", InspectedOn: "2026-06-02", Outcome: OutcomeFail, EnteredBy: "x", EnteredAt: now})
	st.PutResult(ctx, Result{DrawID: "d1", Facility: "f1", InspectedOn: "2026-06-03", Outcome: OutcomePass, EnteredBy: "x", EnteredAt: now})
	st.PutResult(ctx, Result{DrawID: "d1", Facility: "f2", InspectedOn: "2026-06-04", Outcome: OutcomeClosed, EnteredBy: "x", EnteredAt: now})
	last, _ := st.LastInspections(ctx, "110105")
	if len(last) != 1 || last["f1"] != "2026-06-03" {
		t.Errorf("last inspections %v: a correction replaces, a closed facility was not inspected", last)
	}
	if res, _ := st.PublishedResults(ctx, "f1"); len(res) != 1 || res[0].Outcome != OutcomePass {
		t.Errorf("published results %+v", res)
	}
}
