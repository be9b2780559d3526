package load

// ProcessCPU is processCPU (floor_bench_test.go) for the benchmarks of package load_test, so
// that the floor and the end-to-end export measure CPU one way.
var ProcessCPU = processCPU
