// Package storage is the object store under the lake: a local directory (Local) or a Google
// Cloud Storage bucket and prefix (GCS, through cloud.google.com/go/storage), both behind Store
// and both passing the conformance suite in storagetest.
//
// Writes stream (a GCS resumable upload; a local temporary file renamed into place) and become
// visible whole, at Close, or not at all. Small objects (state, locks, manifests) can be
// written conditionally on their version (GCS generation preconditions; a local lock file).
package storage
