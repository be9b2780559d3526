// Package metrics turns one finished chatlake run into Prometheus metrics, for schedulers that
// watch batch jobs: WriteTextfile writes them in the text exposition format for node_exporter's
// textfile collector (atomically: a temporary file in the same directory, fsynced, renamed),
// and Push sends them to a Pushgateway (PUT, replacing the run's group) within a deadline.
//
// The input is a Run: what the command knows when a run ends. Every metric is a gauge named
// chatlake_*, with HELP text, and carries the labels bot, customer and kind (and shard, when
// the run was one shard of several). The values describe the last run, so a scrape after a
// failed run still shows the last success (chatlake_last_success_timestamp_seconds) for
// alerts such as
//
//	time() - chatlake_last_success_timestamp_seconds{kind="nightly"} > 2 * 86400
//
// # Concurrency
//
// Gather, WriteTextfile and Push keep no state between calls and may be called concurrently
// (for distinct files: two WriteTextfile calls on one path race, and the last rename wins).
//
// # Errors
//
// An invalid Run (no kind or outcome, a finish before the start, a negative count) is an
// error naming the field, and nothing is written or pushed. Write and push errors are
// wrapped with the file or the URL.
package metrics
