// Package spotcheck draws "double random, one public" spot checks
// (双随机、一公开): for a county, which facilities are inspected and by
// whom, both at random, with the draw published so that anyone can
// reproduce it.
//
// Facilities are weighted by risk from their monitoring record (Record,
// Parameters: unacknowledged and repeated alerts, time out of limits,
// camera and gateway gaps, time since the last inspection); Rank lists
// them. New draws the sample by weighted sampling without replacement
// (Efraimidis–Spirakis) and a team of inspectors for each, uniformly
// among the least-loaded inspectors not recused from the facility. All
// randomness comes from a 32-byte seed read from crypto/rand (NewSeed)
// through HMAC-SHA256, one labelled word per random number, so the draw
// is a pure function of the request and the seed.
//
// A Draw is the publishable JSON document: method, seed, parameters,
// every candidate's record and weight, the inspectors (published ID and
// name only), the recusals and the selection. Verify (and cwreport
// spotcheck verify) recomputes the weights and the draw from it;
// docs/console.md describes the method exactly, with a short independent
// program in Python that reproduces a published draw.
package spotcheck
