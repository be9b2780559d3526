package main

import (
	"strconv"
)

// The task-index variables of the engines that run chatlake as a sharded job.
const (
	envCloudRunIndex = "CLOUD_RUN_TASK_INDEX" // Cloud Run Jobs: this task's index
	envCloudRunCount = "CLOUD_RUN_TASK_COUNT" // Cloud Run Jobs: the number of tasks
	envJobIndex      = "JOB_COMPLETION_INDEX" // Kubernetes Indexed Jobs: this pod's index
	envShardCount    = "CHATLAKE_SHARD_COUNT" // the count where the engine gives none (Kubernetes)
)

// resolveShard decides the shard index and count: a flag (index >= 0, count > 0) wins, then
// the engines' variables, then one shard. The error names the flag or the variable.
func resolveShard(index, count int, getenv func(string) string) (int, int, error) {
	fromEnv := func(names ...string) (int, string, bool, error) {
		for _, n := range names {
			v := getenv(n)
			if v == "" {
				continue
			}
			i, err := strconv.Atoi(v)
			if err != nil {
				return 0, n, true, usagef("$%s=%q is not a whole number", n, v)
			}
			return i, n, true, nil
		}
		return 0, "", false, nil
	}
	countFrom := "--shard-count"
	if count == 0 {
		c, name, ok, err := fromEnv(envCloudRunCount, envShardCount)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			count, countFrom = c, "$"+name
		} else {
			count = 1
		}
	}
	if count < 1 {
		return 0, 0, usagef("%s must be at least 1, not %d", countFrom, count)
	}
	indexFrom := "--shard-index"
	if index < 0 {
		i, name, ok, err := fromEnv(envCloudRunIndex, envJobIndex)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			index, indexFrom = i, "$"+name
		} else {
			index = 0
		}
	}
	if index < 0 || index >= count {
		return 0, 0, usagef("%s %d is not below the shard count %d (%s)", indexFrom, index, count, countFrom)
	}
	return index, count, nil
}
