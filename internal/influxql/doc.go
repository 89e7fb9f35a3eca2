// Package influxql is CradleWatch's one InfluxQL client: it runs statements
// through the 1.x /query HTTP endpoint, which InfluxDB 1.8 serves natively
// and 2.x and 3.x serve as v1 compatibility, so the same code reads from all
// three.
//
// Everything that reads InfluxDB uses it: the regulators' rollup and report
// (cwreport), the test launcher (internal/influxd) and the tests' checks of
// what the services stored. Writes go through internal/influxwrite.
//
// # Creating a database
//
// InfluxDB 1.x answers a /query request with "200 OK" before it has run the
// statement (it flushes the header first, then the results), and it aborts
// the statement when the client closes the connection. A client that checks
// only the status and closes the body can therefore write right after
// CREATE DATABASE and get 404 "database not found", or have the creation
// cancelled. CreateDatabase reads the whole answer, checks every
// statement's error and then waits until SHOW DATABASES lists the database,
// so a write that follows it finds the database.
package influxql
