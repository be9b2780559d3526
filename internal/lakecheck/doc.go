// Package lakecheck is test support: it reads a lake with DuckDB, an engine independent of the
// code that wrote it, exactly the way the README tells analysts to
// (read_parquet('<lake>/messages/*/*.parquet', hive_partitioning = true)), and compares what it
// finds with the simulator's ground truth. Only tests import it.
package lakecheck
