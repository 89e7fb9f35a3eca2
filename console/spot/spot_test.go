package spot

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

func request() Request {
	req := Request{County: "110105", Period: "2026-06", SampleSize: 2, InspectorsPerFacility: 2, Parameters: DefaultParameters(),
		Inspectors: []Inspector{{ID: "ZF-1", Name: "甲"}, {ID: "ZF-2", Name: "乙"}, {ID: "ZF-3", Name: "丙"}}, Conflicts: []Conflict{{Inspector: "ZF-1", Facility: "110105001-0001"}}}
	for _, id := range []string{"110105001-0001", "110105001-0002", "110105002-0001", "110105003-0001"} {
		req.Candidates = append(req.Candidates, Record{Facility: id, NeverInspected: true, UnacknowledgedAlerts: len(id) % 3})
	}
	return req
}

// testSeeds is a fixed seed source: 32 bytes a draw, the same every run.
func testSeeds() io.Reader {
	return bytes.NewReader(bytes.Repeat([]byte("cradlewatch spot-check test seed"), 4))
}

// The drawer's draws reproduce from their seed, and tampering is caught.
// The seed is fixed: another seed can give the same draw (then the
// "forgery" verifies, rightly), so the forged seed is one that the test
// has checked draws differently.
func TestDrawReproducesAndTamperingFails(t *testing.T) {
	d := NewDrawerFrom(testSeeds())
	drawnAt := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	doc, draw, err := d.Draw(request(), drawnAt)
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
	other := draw.Seed
	for other[0]++; ; other[0]++ {
		again, err := spotcheck.New(request(), other, drawnAt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again.Selected, draw.Selected) {
			break
		}
		if other[0] == draw.Seed[0] {
			t.Fatal("every first byte of the seed gives the same draw")
		}
	}
	var m map[string]any
	json.Unmarshal(doc, &m)
	m["seed"] = other.String()
	forged, _ := json.Marshal(m)
	if d.Verify(forged) == nil {
		t.Error("a draw with another seed verifies")
	}
	req := request()
	req.Inspectors = req.Inspectors[:1]
	if _, _, err := d.Draw(req, drawnAt); !errors.Is(err, ErrNotEnoughInspectors) {
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
