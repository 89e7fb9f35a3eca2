package influxproxy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/influxdata/influxql"

	"github.com/cradlewatch/cradlewatch/model"
)

// Scope rewrites InfluxQL so that it reads one region's series and nothing
// else. It holds the database and the measurements queries may read; it is
// safe for concurrent use.
type Scope struct {
	database     string
	measurements map[string]bool
	sorted       []string
}

// NewScope scopes queries to database and to the given measurements (nil:
// DefaultMeasurements).
func NewScope(database string, measurements []string) (*Scope, error) {
	if database == "" {
		return nil, errors.New("influxproxy: empty database")
	}
	if measurements == nil {
		measurements = DefaultMeasurements()
	}
	s := &Scope{database: database, measurements: map[string]bool{}}
	for _, m := range measurements {
		if m == "" {
			return nil, errors.New("influxproxy: empty measurement name")
		}
		if !s.measurements[m] {
			s.measurements[m] = true
			s.sorted = append(s.sorted, m)
		}
	}
	sort.Strings(s.sorted)
	return s, nil
}

// Database is the one database queries may read.
func (s *Scope) Database() string { return s.database }

// Rewrite parses q with params bound as literals, limits every statement
// to region, renders the result, parses that text again and checks it (see
// verify). It returns the text to send to InfluxDB or a *Refusal. Bound
// parameters never reach InfluxDB: they are literals of the parsed query,
// so a value can never become syntax.
func (s *Scope) Rewrite(q string, params map[string]any, region model.RegionCode) (string, error) {
	if region.IsZero() {
		return "", refuse(ReasonUser, "no region")
	}
	if strings.TrimSpace(q) == "" {
		return "", refuse(ReasonRequest, "missing query (q)")
	}
	if len(q) > MaxQueryLen {
		return "", refuse(ReasonRequest, "query longer than %d bytes", MaxQueryLen)
	}
	if nestingDepth(q) > MaxNesting {
		return "", refuse(ReasonRequest, "parentheses nested more than %d deep", MaxNesting)
	}
	p := influxql.NewParser(strings.NewReader(q))
	p.SetParams(params)
	query, err := p.ParseQuery()
	if err != nil {
		return "", refuse(ReasonParse, "%v", err)
	}
	if len(query.Statements) == 0 {
		return "", refuse(ReasonRequest, "no statement")
	}
	tag := regionTagOf(region)
	for i, st := range query.Statements {
		if err := s.scope(st, tag); err != nil {
			var r *Refusal
			if errors.As(err, &r) && len(query.Statements) > 1 {
				r.Detail = fmt.Sprintf("statement %d: %s", i+1, r.Detail)
			}
			return "", err
		}
	}
	out := render(query)
	again, err := influxql.ParseQuery(out)
	if err != nil {
		return "", refuse(ReasonRender, "the query cannot be printed back exactly: %v", err)
	}
	if err := s.verify(again, tag); err != nil {
		return "", refuse(ReasonUnverified, "%v", err)
	}
	if render(again) != out {
		return "", refuse(ReasonRender, "the query cannot be printed back exactly")
	}
	return out, nil
}

// Bounds of a query's text. Parsing and rendering InfluxQL take time
// growing with the square of a chain's length, and recursion with its
// depth: ten thousand ANDs take seconds, and a deep enough nesting would
// exhaust the stack. Grafana's queries are a few hundred bytes.
const (
	MaxQueryLen = 32 << 10
	MaxNesting  = 64
)

// nestingDepth is an upper bound of q's parenthesis depth (parentheses
// inside literals count too).
func nestingDepth(q string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
			deepest = max(deepest, depth)
		case ')':
			depth--
		}
	}
	return deepest
}

// scope rewrites one statement in place.
func (s *Scope) scope(st influxql.Statement, tag *regionTag) error {
	var err error
	switch st := st.(type) {
	case *influxql.SelectStatement:
		return s.scopeSelect(st, tag)
	case *influxql.ShowTagValuesStatement:
		if st.Sources, err = s.metaSources(st.Database, st.Sources); err == nil {
			st.Condition = tag.and(st.Condition)
		}
	case *influxql.ShowSeriesStatement:
		if st.Sources, err = s.metaSources(st.Database, st.Sources); err == nil {
			st.Condition = tag.and(st.Condition)
		}
	case *influxql.ShowTagKeysStatement:
		if st.Sources, err = s.metaSources(st.Database, st.Sources); err == nil {
			st.Condition = tag.and(st.Condition)
		}
	case *influxql.ShowMeasurementsStatement:
		// Names of measurements that have series in the region; WITH
		// MEASUREMENT may be a regex, since it only filters names. InfluxDB
		// evaluates a SHOW MEASUREMENTS condition term by term over whole
		// measurements, not over series, so "facility = '<another
		// county's>' AND <region>" would tell which measurements another
		// county's facility has: a condition of the user's own is refused.
		if err = s.checkDatabase(st.Database); err == nil {
			if st.Condition != nil {
				return refuse(ReasonStatement, "SHOW MEASUREMENTS takes no WHERE through the proxy (InfluxDB applies it per measurement, not per series)")
			}
			st.Condition = tag.and(nil)
		}
	default:
		return refuse(ReasonStatement, "%s statements cannot be limited to a region", statementKind(st))
	}
	return err
}

// scopeSelect adds the region condition to every SELECT that reads a
// measurement, at the top of its WHERE, and descends into subqueries. A
// SELECT that reads only subqueries gets no condition of its own: its
// rows are the subqueries' (already scoped) rows, and the region tags are
// not among them unless grouped by, so a condition there would drop
// everything.
func (s *Scope) scopeSelect(st *influxql.SelectStatement, tag *regionTag) error {
	if st.Target != nil {
		return refuse(ReasonInto, "SELECT ... INTO writes; the proxy only reads")
	}
	if len(st.Sources) == 0 {
		return refuse(ReasonSource, "SELECT without FROM")
	}
	measurements := false
	for _, src := range st.Sources {
		switch src := src.(type) {
		case *influxql.Measurement:
			if err := s.checkMeasurement(src); err != nil {
				return err
			}
			measurements = true
		case *influxql.SubQuery:
			if err := s.scopeSelect(src.Statement, tag); err != nil {
				return err
			}
		default:
			return refuse(ReasonSource, "unknown source %s", src)
		}
	}
	if measurements {
		st.Condition = tag.and(st.Condition)
	}
	return nil
}

// metaSources checks a SHOW statement's database and sources; an empty
// FROM (every measurement) becomes the list of known measurements.
func (s *Scope) metaSources(db string, src influxql.Sources) (influxql.Sources, error) {
	if err := s.checkDatabase(db); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		for _, m := range s.sorted {
			src = append(src, &influxql.Measurement{Name: m})
		}
		return src, nil
	}
	return src, s.checkSources(src)
}

// checkSources accepts a non-empty list of known measurements.
func (s *Scope) checkSources(src influxql.Sources) error {
	if len(src) == 0 {
		return refuse(ReasonSource, "name the measurements (FROM)")
	}
	for _, x := range src {
		m, ok := x.(*influxql.Measurement)
		if !ok {
			return refuse(ReasonSource, "unknown source %s", x)
		}
		if err := s.checkMeasurement(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scope) checkMeasurement(m *influxql.Measurement) error {
	switch {
	case m.IsTarget:
		return refuse(ReasonInto, "writes are not allowed")
	case m.Database != "" && m.Database != s.database:
		return refuse(ReasonDatabase, "database %q: only %q can be read", m.Database, s.database)
	case m.Regex != nil:
		return refuse(ReasonSource, "FROM a regular expression (%s): name the measurements", m.Regex)
	case m.SystemIterator != "" || !s.measurements[m.Name]:
		return refuse(ReasonSource, "measurement %q is not in the CradleWatch schema", m.Name)
	}
	return nil
}

func (s *Scope) checkDatabase(db string) error {
	if db != "" && db != s.database {
		return refuse(ReasonDatabase, "database %q: only %q can be read", db, s.database)
	}
	return nil
}

// statementKind names a statement's type for a refusal: "DropDatabase".
func statementKind(st influxql.Statement) string {
	n := fmt.Sprintf("%T", st)
	n = n[strings.LastIndex(n, ".")+1:]
	return strings.TrimSuffix(n, "Statement")
}

// regionTag is the region condition: "<level>"::tag = '<code>'. The
// ::tag matters: a plain "county" names a field when one of that name
// exists, and InfluxDB then filters on the field (or, in SHOW TAG VALUES,
// ignores the condition), so a point written with a field county='110105'
// would pass. nil is the whole country: no condition.
type regionTag struct{ name, value string }

func regionTagOf(c model.RegionCode) *regionTag {
	name, value, ok := c.Tag()
	if !ok {
		return nil
	}
	return &regionTag{name, value}
}

func (t *regionTag) expr() influxql.Expr {
	return &influxql.BinaryExpr{
		Op:  influxql.EQ,
		LHS: &influxql.VarRef{Val: t.name, Type: influxql.Tag},
		RHS: &influxql.StringLiteral{Val: t.value},
	}
}

// and returns (cond) AND region: the user's condition in parentheses, so
// that no OR in it binds across the region condition, under an AND at the
// top of the WHERE.
func (t *regionTag) and(cond influxql.Expr) influxql.Expr {
	if t == nil {
		return cond
	}
	if cond == nil {
		return t.expr()
	}
	return &influxql.BinaryExpr{Op: influxql.AND, LHS: &influxql.ParenExpr{Expr: cond}, RHS: t.expr()}
}

// is reports whether e is exactly the region condition.
func (t *regionTag) is(e influxql.Expr) bool {
	b, ok := e.(*influxql.BinaryExpr)
	if !ok || b.Op != influxql.EQ {
		return false
	}
	ref, ok := b.LHS.(*influxql.VarRef)
	if !ok || ref.Val != t.name || ref.Type != influxql.Tag {
		return false
	}
	lit, ok := b.RHS.(*influxql.StringLiteral)
	return ok && lit.Val == t.value
}

// limits reports whether a WHERE keeps only the region's series: it is
// the region condition, or an AND whose right side is.
func (t *regionTag) limits(cond influxql.Expr) bool {
	if t == nil {
		return true
	}
	if t.is(cond) {
		return true
	}
	b, ok := cond.(*influxql.BinaryExpr)
	return ok && b.Op == influxql.AND && t.is(b.RHS)
}
