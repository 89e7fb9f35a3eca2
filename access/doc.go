// Package access is CradleWatch's trust boundary: who is asking (a
// Principal, from a session, an API token or a service credential), what
// they may see and do (Authorize, over the region tree of model.RegionCode),
// and the rules a silence must keep (SilencePolicy).
//
// Every surface asks the same question through this package: the alerting
// API before it lists, acknowledges or silences, the console before it
// renders, the InfluxQL proxy before it scopes a query. The answer depends
// only on the principal and the target's registered region (from the
// registry, never a region a gateway claims about itself):
//
//	err := access.Authorize(p, access.ActionAcknowledge, access.ForFacility(f.ID, f.Region))
//	if errors.Is(err, access.ErrDenied) { ... 403 ... }
//
// The subpackages hold the parts: store (PostgreSQL or SQLite, one schema
// with migrations), authn (passwords, tokens, sessions, OpenID Connect),
// limit (failed-attempt limits with lockout), web (HTTP middleware with
// secure defaults), callback (SMS-provider callbacks), audit (the
// hash-chained, signed audit trail) and secret (secrets from files or the
// environment, placeholders refused).
//
// docs/security.md is the threat model and the table of what each role may do.
package access
