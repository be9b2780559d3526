// Package pipelines runs exports: it plans a range of whole UTC days into units of work,
// extracts each unit's users and conversations with bounded concurrency, flattens and
// de-duplicates them, stages them on local disk by partition day, and publishes the days to the
// lake. The nightly run and backfills are built on it, with their state and lock in the lake.
package pipelines
