package main

import (
	"errors"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/pipelines"
)

// extractFlagError names the flag behind an invalid field of extract.Options, so that a person
// reads --customer, not CustomerID. Other errors pass unchanged.
func extractFlagError(err error) error {
	var oe *extract.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	flags := map[string]string{
		"BaseURL": "--api-url", "CustomerID": "--customer", "BotKey": "--bot",
		"APIKey": "the API key (" + apiKeyEnv + " or --api-key-file)", "Rate": "--rate",
		"MaxAttempts": "--max-attempts", "PageSize": "--page-size", "AttemptTimeout": "--request-timeout",
	}
	name, ok := flags[oe.Field]
	if !ok {
		return err
	}
	return usagef("%s: %s", name, oe.Reason)
}

// pipelineFlagError names the flag behind an invalid field of pipelines.Options.
func pipelineFlagError(err error) error {
	var oe *pipelines.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	flags := map[string]string{
		"Concurrency": "--concurrency", "BatchSize": "--batch-size", "ParallelBatches": "--parallel-batches",
		"ParallelPublish": "--parallel-publish",
		"Settle":          "--settle", "Lookback": "--lookback", "LockLease": "--lock-lease",
		"ShardIndex": "--shard-index", "ShardCount": "--shard-count",
	}
	name, ok := flags[oe.Field]
	if !ok {
		return err
	}
	return usagef("%s %s", name, oe.Reason)
}
