package influxproxy

import (
	"errors"
	"fmt"

	"github.com/influxdata/influxql"
)

// verify is the invariant, checked on the rewritten query after it was
// rendered and parsed again, i.e. on what InfluxDB will parse:
//
//   - every statement is a SELECT or one of the scoped SHOW statements;
//   - no SELECT writes (INTO);
//   - every SELECT that reads a measurement, at any depth, and every SHOW
//     TAG VALUES, SHOW SERIES and SHOW TAG KEYS has a WHERE that is the
//     region condition or "... AND <region condition>" at its top;
//   - a SHOW MEASUREMENTS has the region condition as its whole WHERE;
//   - every measurement read is named (no regex), in the schema and in
//     the configured database.
//
// It shares nothing with the rewriter but the source checks, so a mistake
// in the rewriting (a lost parenthesis, a subquery not descended into)
// is caught here and refused instead of sent.
func (s *Scope) verify(q *influxql.Query, tag *regionTag) error {
	for i, st := range q.Statements {
		if err := s.verifyStatement(st, tag); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return nil
}

var errUnscoped = errors.New("a WHERE is not limited to the region")

func (s *Scope) verifyStatement(st influxql.Statement, tag *regionTag) error {
	type meta struct {
		db   string
		src  influxql.Sources
		cond influxql.Expr
	}
	var m meta
	switch st := st.(type) {
	case *influxql.SelectStatement:
		return s.verifySelect(st, tag)
	case *influxql.ShowTagValuesStatement:
		m = meta{st.Database, st.Sources, st.Condition}
	case *influxql.ShowSeriesStatement:
		m = meta{st.Database, st.Sources, st.Condition}
	case *influxql.ShowTagKeysStatement:
		m = meta{st.Database, st.Sources, st.Condition}
	case *influxql.ShowMeasurementsStatement:
		if err := s.checkDatabase(st.Database); err != nil {
			return err
		}
		if tag == nil && st.Condition == nil || tag != nil && tag.is(st.Condition) {
			return nil
		}
		return errors.New("SHOW MEASUREMENTS with a condition other than the region's")
	default:
		return fmt.Errorf("%s statement", statementKind(st))
	}
	if err := s.checkDatabase(m.db); err != nil {
		return err
	}
	if err := s.checkSources(m.src); err != nil {
		return err
	}
	if !tag.limits(m.cond) {
		return errUnscoped
	}
	return nil
}

func (s *Scope) verifySelect(st *influxql.SelectStatement, tag *regionTag) error {
	if st.Target != nil {
		return errors.New("INTO")
	}
	if len(st.Sources) == 0 {
		return errors.New("no source")
	}
	for _, src := range st.Sources {
		switch src := src.(type) {
		case *influxql.Measurement:
			if err := s.checkMeasurement(src); err != nil {
				return err
			}
			if !tag.limits(st.Condition) {
				return errUnscoped
			}
		case *influxql.SubQuery:
			if err := s.verifySelect(src.Statement, tag); err != nil {
				return err
			}
		default:
			return fmt.Errorf("source %s", src)
		}
	}
	return nil
}
