// Package sim is a Technowiz API simulator: deterministic synthetic users and conversations
// from a seed, served over HTTP in the canonical shape or in any variant of the contract, with
// injectable faults (429s, 5xx, cut-off bodies, latency, a server-side rate limit, inclusive
// end bounds, a users endpoint that ignores paging) and a ground truth that tests compare the
// lake with.
package sim
