// Package lakecheck is test support: it reads a lake with DuckDB, an engine independent of the
// code that wrote it, exactly the way the README tells analysts to
// (read_parquet('<lake>/messages/*/*.parquet', hive_partitioning = true)), and compares what it
// finds with the simulator's ground truth. Only tests import it.
//
// # Concurrency
//
// The functions keep no state; a *sql.DB from Open may be shared by goroutines, as any.
//
// # Errors
//
// Open fails t when DuckDB cannot start. ReadMessages, ColumnType and Download return DuckDB's
// or the store's error, wrapped with the object when there is one. Compare returns "" when the
// rows equal the truth, else a description of the first differences, for t.Fatal.
package lakecheck
