package influxproxy

import "fmt"

// Reason says why a request was refused. It is the reason label of
// cw_influxproxy_refusals_total, so the set is closed.
type Reason string

// Reasons a request is refused.
const (
	// ReasonAuth: Grafana's service credentials are missing or wrong.
	ReasonAuth Reason = "auth"
	// ReasonUser: no X-Grafana-User header, or a login that maps to no
	// region.
	ReasonUser Reason = "user"
	// ReasonRequest: not a query the HTTP API takes (method, missing q,
	// bad epoch, a body too large, params that are not a JSON object).
	ReasonRequest Reason = "request"
	// ReasonDatabase: a db parameter or ON clause naming another database.
	ReasonDatabase Reason = "database"
	// ReasonParse: the text is not InfluxQL.
	ReasonParse Reason = "parse"
	// ReasonStatement: a statement the proxy cannot scope: DDL, DELETE,
	// DROP, EXPLAIN, user and privilege statements, SHOW statements other
	// than tag values, series, tag keys and measurements. SHOW FIELD KEYS
	// is among them: it takes no WHERE, so a field that only another
	// region's points carry would show.
	ReasonStatement Reason = "statement"
	// ReasonInto: SELECT ... INTO, a write.
	ReasonInto Reason = "into"
	// ReasonSource: FROM a regular expression, a measurement outside the
	// schema, or another database.
	ReasonSource Reason = "source"
	// ReasonUnverified: the rewritten query did not pass the proxy's own
	// check after rendering and parsing it again. It is never sent; seeing
	// it means a bug in the rewriter or a construct it renders inexactly.
	ReasonUnverified Reason = "unverified"
	// ReasonRender: the query parses, but the InfluxQL library cannot print
	// it back to text that parses to the same query (an empty function
	// name, a fill value in exponent form). Refused rather than sent
	// changed.
	ReasonRender Reason = "render"
	// ReasonPath: anything but /query and /ping (/write above all).
	ReasonPath Reason = "path"
)

// reasons lists every Reason, to initialise the counters at zero.
var reasons = []Reason{ReasonAuth, ReasonUser, ReasonRequest, ReasonDatabase, ReasonParse,
	ReasonStatement, ReasonInto, ReasonSource, ReasonUnverified, ReasonRender, ReasonPath}

// Refusal is a query or request the proxy will not forward.
type Refusal struct {
	Reason Reason
	// Detail says what was refused, for the user and the log; it never
	// contains the service secret.
	Detail string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("refused by the CradleWatch region proxy (%s): %s", r.Reason, r.Detail)
}

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
