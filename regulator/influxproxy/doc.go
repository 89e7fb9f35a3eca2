// Package influxproxy is the InfluxQL region proxy: Grafana's InfluxDB
// datasource points at it instead of at InfluxDB, and every query is
// limited to the region of the Grafana user who sent it, so a street
// office sees its street and a county its county whatever the dashboard's
// variables say or an analyst types.
//
// # Who is asking
//
// Grafana authenticates itself with HTTP basic auth (the datasource's
// basicAuthUser and basicAuthPassword: one service secret) and names the
// user in X-Grafana-User ([dataproxy] send_user_header = true). The header
// is believed only on a request that carries the secret; the proxy must
// not be reachable by anything but Grafana. A Resolver maps the login to a
// model.RegionCode: AccessResolver (the access database's accounts, cached
// for users_cache_ttl; disabled accounts and operators refused) or
// UsersFile (a YAML file, for small sites). No header, an unknown or
// refused login, or a resolver error: refused.
//
// # What a query may do
//
// Each request's q is parsed with the InfluxQL parser of
// github.com/influxdata/influxql, params (InfluxDB's bound parameters)
// bound as literals of the parse, so that no value can become syntax and
// none reaches InfluxDB. Then every statement is checked and rewritten
// (Scope.Rewrite):
//
//   - SELECT: every SELECT that reads a measurement, at any depth of
//     subqueries, gets WHERE (<the user's condition>) AND <region>, where
//     <region> is "county"::tag = '110105' (or province, city, street, from
//     RegionCode.Tag). The user's condition is parenthesised under the AND
//     at the top, so no OR 1=1, regex on a region tag, or condition on a
//     field named like a tag can widen it; ::tag makes it a tag even when
//     a field of that name exists. A SELECT that reads only subqueries is
//     left as it is: its rows are the scoped subqueries' rows.
//   - SHOW TAG VALUES, SHOW SERIES and SHOW TAG KEYS (what Grafana's
//     template variables and query editor send): the same condition; an
//     empty FROM becomes the schema's measurements. InfluxDB applies their
//     WHERE to each series, so the region term holds series by series.
//   - SHOW MEASUREMENTS ("Save & test", the query editor): the region
//     condition alone. InfluxDB applies its WHERE term by term to whole
//     measurements, so a term of the user's could ask about another
//     region's series: a SHOW MEASUREMENTS with a WHERE is refused.
//   - Refused: SELECT INTO, FROM a regex, a measurement outside the schema
//     (DefaultMeasurements, plus configured extras), another database,
//     EXPLAIN, DELETE, DROP, CREATE, ALTER, GRANT, REVOKE, KILL, and every
//     other SHOW (SHOW FIELD KEYS included: it takes no WHERE). A request
//     with several statements is forwarded only if every one is scoped.
//   - Then the rewritten query is printed, parsed again and checked
//     (verify): what InfluxDB receives is exactly what was checked.
//
// The whole country (RegionCode Nationwide) gets no condition but the same
// checks. The rewritten text is sent to InfluxDB as a GET, which InfluxDB
// 1.x serves only for reading statements, with the proxy's own read-only
// account.
//
// # Refusals
//
// A refusal answers InfluxDB's error shape ({"error": "..."}), which
// Grafana shows on the panel, is counted in cw_influxproxy_refusals_total
// by Reason, and is logged once per user, reason and query: Grafana sends a
// refused panel again at every refresh.
//
// # Endpoints
//
// /query (GET and POST, db, q, epoch, params, as InfluxDB 1.x) and /ping
// (InfluxDB's own answer) on the Grafana-facing listener; /metrics,
// /healthz and /readyz on the operational listener, which must be on
// loopback. Everything else, /write first, is refused.
package influxproxy
