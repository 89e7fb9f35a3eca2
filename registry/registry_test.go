package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// facilityYAML is a valid facility file with the given devices and
// operator phone.
func facilityYAML(id, gateway, phone string, devices ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "facility: {id: %s, name: 园, region: \"110105001\"}\ngateways: [%s]\n", id, gateway)
	fmt.Fprintf(&b, "operators:\n  - {name: 园长, phone: %q}\nrooms:\n  - {id: r1, name: 乳儿班, type: infant}\ndevices:\n", phone)
	for i, d := range devices {
		fmt.Fprintf(&b, "  - {id: %s, room: r1, source: zigbee2mqtt, address: a%d, kinds: [temperature], interval: 60s}\n", d, i)
	}
	return b.String()
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects a registry's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openDir(t *testing.T, dir string) (*Registry, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	r, err := OpenDir(context.Background(), dir, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

func reload(t *testing.T, r *Registry) bool {
	t.Helper()
	changed, err := r.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

func TestReloadAppliesChangesAndKeepsOldSnapshots(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	write(t, dir, "b.yaml", facilityYAML("f-b", "gw-b", "+8613800000002", "d1"))
	write(t, dir, "notes.txt", "not a facility file")
	write(t, dir, ".a.yaml.swp", "an editor's swap file")
	r, _ := openDir(t, dir)
	s1 := r.Snapshot()
	if s1.Len() != 2 || s1.Generation() != 1 || s1.Facility("f-a").Device("d1") == nil {
		t.Fatalf("first snapshot: %d facilities", s1.Len())
	}
	if reload(t, r) || r.Snapshot() != s1 {
		t.Fatal("a reload without a change published a snapshot")
	}
	changed := r.Changed()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613900000009", "d1", "d2"))
	if !reload(t, r) {
		t.Fatal("a new device was not picked up")
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed was not closed")
	}
	s2 := r.Snapshot()
	a := s2.Facility("f-a")
	if s2.Generation() != 2 || a.Device("d2") == nil || a.Operators[0].Phone != "+8613900000009" {
		t.Fatalf("second snapshot: %+v", a)
	}
	if s2.Facility("f-b") != s1.Facility("f-b") {
		t.Error("an unchanged file was built again")
	}
	// The first snapshot is untouched: a reader holding it sees one registry.
	if s1.Facility("f-a").Device("d2") != nil || s1.Facility("f-a").Operators[0].Phone != "+8613800000001" {
		t.Error("the old snapshot changed")
	}
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if !reload(t, r) || r.Snapshot().Facility("f-b") != nil || r.Snapshot().GatewayFacility("gw-b") != nil {
		t.Fatal("a removed file's facility stayed")
	}
	if st := r.Stats(); st.Generation != 3 || st.Reloads != 2 || st.Facilities != 1 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestInvalidReloadKeepsLastGood: a file broken while the service runs is
// rejected alone, logged with file, key and reason once, and its last good
// version stays; a new broken file stays out; fixing it applies.
func TestInvalidReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	r, logs := openDir(t, dir)
	write(t, dir, "a.yaml", strings.Replace(facilityYAML("f-a", "gw-a", "+8613800000001", "d1", "d2"), "type: infant", "type: nursery", 1))
	write(t, dir, "c.yaml", facilityYAML("f-c", "gw-c", "+8613800000003", "d1"))
	write(t, dir, "new-bad.yaml", "facility: {id: f-n, region: \"1101\"}\n")
	if !reload(t, r) {
		t.Fatal("the good new file was not applied")
	}
	s := r.Snapshot()
	if a := s.Facility("f-a"); a == nil || a.Device("d2") != nil || a.Device("d1") == nil {
		t.Fatalf("f-a is not its last good version: %+v", a)
	}
	if s.Facility("f-c") == nil || s.Facility("f-n") != nil {
		t.Fatal("the good new file must apply, the bad new one stay out")
	}
	if st := r.Stats(); st.Rejected != 2 {
		t.Fatalf("rejected %d, want 2", st.Rejected)
	}
	out := logs.String()
	for _, want := range []string{filepath.Join(dir, "a.yaml"), "rooms[0].type", "nursery", filepath.Join(dir, "new-bad.yaml"), "facility.region", "last good version stays"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// Polled again, unchanged: not counted or logged again.
	lines := strings.Count(logs.String(), "\n")
	if reload(t, r) {
		t.Error("nothing changed, yet a snapshot was published")
	}
	if st := r.Stats(); st.Rejected != 2 || strings.Count(logs.String(), "\n") != lines {
		t.Fatalf("the same refusal counted again: %+v", st)
	}
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1", "d2"))
	if !reload(t, r) || r.Snapshot().Facility("f-a").Device("d2") == nil {
		t.Fatal("the fixed file was not applied")
	}
	if strings.Contains(logs.String(), "13800000001") {
		t.Error("a phone number was logged")
	}
}

// TestConflictsKeepTheHolder: a new or changed file claiming a facility ID
// or a gateway ID another file holds is refused; the holder keeps it.
func TestConflictsKeepTheHolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.yaml", facilityYAML("f-b", "gw-b", "+8613800000002", "d1"))
	write(t, dir, "c.yaml", facilityYAML("f-c", "gw-c", "+8613800000003", "d1"))
	r, logs := openDir(t, dir)
	write(t, dir, "a.yaml", facilityYAML("f-b", "gw-x", "+8613800000009", "d9"))       // sorts first, same facility ID
	write(t, dir, "c.yaml", facilityYAML("f-c", "gw-b", "+8613800000003", "d1", "d2")) // takes b's gateway
	reload(t, r)
	s := r.Snapshot()
	if b := s.Facility("f-b"); b == nil || b.Origin != filepath.Join(dir, "b.yaml") || s.GatewayFacility("gw-b") != b {
		t.Fatalf("f-b lost its file or gateway: %+v", b)
	}
	if c := s.Facility("f-c"); c == nil || c.Device("d2") != nil || !c.HasGateway("gw-c") {
		t.Fatalf("c.yaml must stay at its last good version: %+v", c)
	}
	if st := r.Stats(); st.Rejected != 2 {
		t.Fatalf("rejected %d, want 2", st.Rejected)
	}
	reload(t, r)
	if st := r.Stats(); st.Rejected != 2 {
		t.Fatalf("a standing conflict counted again: %d", st.Rejected)
	}
	if out := logs.String(); !strings.Contains(out, "is also the id in") || !strings.Contains(out, `gateway \"gw-b\" is also registered`) {
		t.Errorf("log:\n%s", out)
	}
	// At start-up the same conflict is an error naming the file.
	_, err := OpenDir(context.Background(), dir, Options{})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key == "" {
		t.Fatalf("open with a conflict: %v", err)
	}
}

func TestOpenFailsOnAnInvalidFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	write(t, dir, "z.yaml", "facility: {id: f-z, region: \"110105001\"}\nrooms: [{id: r, name: r, type: attic}]\n")
	_, err := OpenDir(context.Background(), dir, Options{})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.File != filepath.Join(dir, "z.yaml") || ce.Key != "rooms[0].type" {
		t.Fatalf("err %v", err)
	}
	if _, err := OpenDir(context.Background(), filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Fatal("a missing folder must fail the start")
	}
}

// TestSourceErrorKeepsTheRegistry: the folder vanishing (an unmounted
// volume) keeps the registry as it was.
func TestSourceErrorKeepsTheRegistry(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "facilities")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	r, _ := openDir(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(context.Background()); err == nil {
		t.Fatal("no error for a missing folder")
	}
	if r.Snapshot().Facility("f-a") == nil || r.Stats().SourceErrors != 1 {
		t.Fatalf("registry lost: %+v", r.Stats())
	}
}

// TestRacyEditIsSeen: a file rewritten with the same size and the same
// modification time right after it was read (an edit within one timestamp
// tick) is read again at the next poll.
func TestRacyEditIsSeen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.yaml")
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	r, _ := openDir(t, dir)
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(facilityYAML("f-a", "gw-a", "+8613800000002", "d1")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if !reload(t, r) || r.Snapshot().Facility("f-a").Operators[0].Phone != "+8613800000002" {
		t.Fatal("an edit within the timestamp resolution was missed")
	}
}

// TestCheckHook: a central check (opening hours parsed by the rule set)
// refuses a record like an invalid file, once per version.
func TestCheckHook(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	checks := 0
	check := func(f *Facility) error {
		checks++
		if f.Device("bad") != nil {
			return config.Errorf("facility.opening_hours", "refused by the check")
		}
		return nil
	}
	r, err := OpenDir(context.Background(), dir, Options{Check: check})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1", "bad"))
	reload(t, r)
	reload(t, r)
	if r.Snapshot().Facility("f-a").Device("bad") != nil || r.Stats().Rejected != 1 || checks != 2 {
		t.Fatalf("checks %d stats %+v", checks, r.Stats())
	}
	if _, err := OpenDir(context.Background(), dir, Options{Check: check}); err == nil || !strings.Contains(err.Error(), "facility.opening_hours") {
		t.Fatalf("open: %v", err)
	}
}

// TestRunPollsAndReadersNeverRace: readers take snapshots and look through
// them while Run reloads a changing folder; under -race any shared write
// shows, and every snapshot a reader holds is whole: both facilities, their
// gateway index, each facility's device index matching its devices.
func TestRunPollsAndReadersNeverRace(t *testing.T) {
	dir := t.TempDir()
	devs := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("d%d", i))
		}
		return out
	}
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", devs(1)...))
	write(t, dir, "b.yaml", facilityYAML("f-b", "gw-b", "+8613800000002", devs(1)...))
	r, err := OpenDir(context.Background(), dir, Options{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	stop := make(chan struct{})
	var torn sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := r.Snapshot()
				a := s.Facility("f-a")
				if s.Facility("f-b") == nil || s.GatewayFacility("gw-a") != a {
					torn.Do(func() { t.Error("a snapshot lost a facility or its gateway index") })
				}
				for i := range a.Devices {
					if a.Device(a.Devices[i].ID) != &a.Devices[i] {
						torn.Do(func() { t.Error("a facility's index disagrees with its devices") })
					}
				}
			}
		}()
	}
	for n := 2; n <= 20; n++ {
		changed := r.Changed()
		write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", devs(n)...))
		write(t, dir, "b.yaml", facilityYAML("f-b", "gw-b", "+8613800000002", devs(n)...))
		<-changed // Run saw at least one of the files
		for len(r.Snapshot().Facility("f-b").Devices) != n || len(r.Snapshot().Facility("f-a").Devices) != n {
			<-r.Changed()
		}
	}
	close(stop)
	cancel()
	wg.Wait()
	if st := r.Stats(); st.Rejected != 0 || st.Reloads < 19 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStaticAndFixed(t *testing.T) {
	f, err := Parse("mem", []byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	r := Fixed(f)
	if r.Snapshot().Facility("f-1") != f || r.Snapshot().GatewayFacility("gw-1") != f {
		t.Fatal("fixed registry")
	}
	if changed, err := r.Reload(context.Background()); changed || err != nil {
		t.Fatal("a static source changed")
	}
	other := &Facility{}
	other.ID, other.Region, other.Gateways = "f-2", "110105001", []string{"gw-2"}
	other.Devices = append(other.Devices, f.Devices...)
	s := Fixed(f, other).Snapshot()
	if s.Facility("f-2").Device("d1") == nil || !s.Facility("f-2").HasGateway("gw-2") {
		t.Fatal("a struct literal was not indexed")
	}
	if !s.DeviceElsewhere("f-3", "d1") || s.DeviceElsewhere("f-1", "d9") {
		t.Fatal("DeviceElsewhere")
	}
}

// failingSource is a source that cannot be read (a database that is down).
type failingSource struct{}

func (failingSource) Entries(context.Context) ([]Entry, error) {
	return nil, errors.New("database down")
}
func (failingSource) String() string { return "failing" }

// TestMergedSources: a folder and a second source (the access database's
// place) make one registry; a facility ID in both is a conflict; a source
// that cannot be read keeps the registry as it was.
func TestMergedSources(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", facilityYAML("f-a", "gw-a", "+8613800000001", "d1"))
	db, err := Parse("db/f-b", []byte(facilityYAML("f-b", "gw-b", "+8613800000002", "d1")))
	if err != nil {
		t.Fatal(err)
	}
	src := Merge(NewDir(dir), Static(db))
	r, err := Open(context.Background(), Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Snapshot(); s.Len() != 2 || s.GatewayFacility("gw-b") == nil || !strings.Contains(src.String(), "static") {
		t.Fatalf("merged registry: %d facilities, source %s", s.Len(), src)
	}
	write(t, dir, "b.yaml", facilityYAML("f-b", "gw-x", "+8613800000003", "d1"))
	if reload(t, r); r.Snapshot().Facility("f-b") != db || r.Stats().Rejected != 1 {
		t.Fatalf("the file claiming the database's facility must lose: %+v", r.Stats())
	}
	broken, err := Open(context.Background(), Options{Source: Merge(NewDir(dir), failingSource{})})
	if err == nil || broken != nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("open with an unreadable source: %v", err)
	}
}
