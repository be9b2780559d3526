package load

import (
	"fmt"
	"strings"
	"time"

	"github.com/chatlake/chatlake/schema"
)

// The lake's layout: every object name of the lake is made or parsed here and nowhere else:
// other packages take names (and globs) from the functions and constants below, and read and
// write the objects through the Lake's methods. doc.go documents the layout for people.
const (
	// StatePath is the lake's state (state.go: State, ReadState, WriteState).
	StatePath = chatlakeDir + "state.json"
	// LockPath is the lake's run lock (lock.go: LockRecord, AcquireLock).
	LockPath = chatlakeDir + "lock.json"
	// ModePath is the lake's mode record (lakemode.go): pseudonymised or not, and the key's
	// fingerprint.
	ModePath = chatlakeDir + "lake.json"

	// MessagesPartition is the path column of the messages table's partitions (dt=YYYY-MM-DD).
	MessagesPartition = "dt"
	// UsersPartition is the path column of the users table's partitions.
	UsersPartition = "snapshot_date"

	chatlakeDir     = "_chatlake/"
	messagesPrefix  = schema.MessagesTable + "/"
	usersPrefix     = schema.UsersTable + "/"
	manifestsPrefix = chatlakeDir + "manifests/" + schema.MessagesTable + "/"
	stagingPrefix   = chatlakeDir + "staging/"
	runsPrefix      = chatlakeDir + "runs/"

	maxShards  = 99999  // five digits in a partition file's name
	maxBatches = 999999 // six digits in a batch's names
	maxParts   = 999    // three digits in a staged part's name
)

// TableGlob is the glob, relative to the lake's root, that matches every data file of table
// (schema.MessagesTable or schema.UsersTable, "" for another name): what analysts read, e.g.
// messages/dt=*/*.parquet. Nothing under _chatlake matches it.
func TableGlob(table string) string {
	switch table {
	case schema.MessagesTable:
		return messagesPrefix + MessagesPartition + "=*/*" + dataExt
	case schema.UsersTable:
		return usersPrefix + UsersPartition + "=*/*" + dataExt
	}
	return ""
}

// TableDir is the directory, relative to the lake's root and without a trailing slash, of
// table (schema.MessagesTable or schema.UsersTable, "" for another name): the location of an
// external table over it.
func TableDir(table string) string {
	switch table {
	case schema.MessagesTable:
		return strings.TrimSuffix(messagesPrefix, "/")
	case schema.UsersTable:
		return strings.TrimSuffix(usersPrefix, "/")
	}
	return ""
}

// dataExt ends the name of every data file of the tables.
const dataExt = ".parquet"

// partitionDir is the directory of day's partition of the messages table.
func partitionDir(day string) string { return messagesPrefix + MessagesPartition + "=" + day + "/" }

// parsePartitionDay returns the day of an object under messagesPrefix that is in a partition
// directory (messages/dt=DAY/...).
func parsePartitionDay(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, messagesPrefix+MessagesPartition+"=")
	if !ok {
		return "", false
	}
	day, _, ok := strings.Cut(rest, "/")
	return day, ok && checkDay(day) == nil
}

// isDataFile tells a partition's data file by its base name.
func isDataFile(base string) bool { return strings.HasSuffix(base, dataExt) }

// manifestPath is the manifest of day's partition.
func manifestPath(day string) string {
	return manifestsPrefix + MessagesPartition + "=" + day + ".json"
}

// parseManifestPath returns the day of a manifest's name.
func parseManifestPath(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, manifestsPrefix+MessagesPartition+"=")
	if !ok {
		return "", false
	}
	day, ok := strings.CutSuffix(rest, ".json")
	return day, ok && checkDay(day) == nil && manifestPath(day) == name
}

// stateAsidePath is the i-th (from 1) name under which KeepStateAside keeps a replaced state
// file at now: _chatlake/state.json.corrupt-<UTC time>[-i].
func stateAsidePath(now time.Time, i int) string {
	name := StatePath + ".corrupt-" + now.UTC().Format("20060102T150405.000Z")
	if i > 1 {
		name = fmt.Sprintf("%s-%d", name, i)
	}
	return name
}

// shardName is the base name of shard i of a partition of p shards.
func shardName(i, p int) string { return fmt.Sprintf("part-%05d-of-%05d"+dataExt, i, p) }

// parseShardName returns the shard and shard count of a file name of the current layout.
func parseShardName(name string) (i, p int, ok bool) {
	var a, b int
	if n, err := fmt.Sscanf(name, "part-%05d-of-%05d.parquet", &a, &b); err != nil || n != 2 {
		return 0, 0, false
	}
	if b < 1 || a < 0 || a >= b || shardName(a, b) != name {
		return 0, 0, false
	}
	return a, b, true
}

// The layout of an Iceberg lake's tables (a table's location is TableDir): data files under
// data/, with unique names (Iceberg never has a file rewritten in place), partitioned as the
// Hive layout is; metadata under metadata/, written by the catalog's library.
const icebergDataDir = "data/"

// icebergPartitionDir is the directory of day's data files of the messages table.
func icebergPartitionDir(day string) string {
	return messagesPrefix + icebergDataDir + MessagesPartition + "=" + day + "/"
}

// icebergShardName is the name of shard i of p of a day, written by run runID.
func icebergShardName(i, p int, runID string) string {
	return strings.TrimSuffix(shardName(i, p), dataExt) + "-" + runID + dataExt
}

// parseIcebergShardName returns the shard and shard count of an icebergShardName.
func parseIcebergShardName(name string) (i, p int, ok bool) {
	base, ok := strings.CutSuffix(name, dataExt)
	if !ok || len(base) < len("part-00000-of-00000-") {
		return 0, 0, false
	}
	n := len("part-00000-of-00000")
	if base[n] != '-' || checkRunID(base[n+1:]) != nil {
		return 0, 0, false
	}
	return parseShardName(base[:n] + dataExt)
}

// icebergUsersPrefix begins the name of every users file written for plan on snapshotDate in
// an Iceberg lake; icebergUsersPath is the one run runID writes.
func icebergUsersPrefix(snapshotDate, plan string) string {
	return usersPrefix + icebergDataDir + UsersPartition + "=" + snapshotDate + "/part-" + plan + "-"
}

func icebergUsersPath(snapshotDate, plan, runID string) string {
	return icebergUsersPrefix(snapshotDate, plan) + runID + dataExt
}

// stagingDir is where run runID uploads the new files of day's partition before moving them in.
func stagingDir(runID, day string) string { return stagingPrefix + runID + "/" + partitionDir(day) }

// usersDir is the directory of one snapshot date of the users table.
func usersDir(snapshotDate string) string {
	return usersPrefix + UsersPartition + "=" + snapshotDate + "/"
}

// usersPath is the file a run (by its plan id) writes into a snapshot date of the users table:
// one file per plan, so a run never replaces the users another run listed.
func usersPath(snapshotDate, plan string) string {
	return usersDir(snapshotDate) + "part-" + plan + dataExt
}

// runDir holds everything of one run plan: the plan, and under attemptDir the batches' users,
// done records and staged rows of each instance of the plan.
func runDir(plan string) string { return runsPrefix + plan + "/" }

func planPath(plan string) string { return runDir(plan) + "plan.json" }

// attemptDir holds what one instance of plan wrote: the instance whose planner (attempt) wrote
// plan.json. A plan id comes back when its command is run again after the plan was published
// and removed; a removal cut short leaves objects of the old instance behind, and they must not
// count for the new one (a done record without its staged rows would lose that batch's users'
// rows). So every record of progress is named by the attempt the plan names.
func attemptDir(plan, attempt string) string { return runDir(plan) + "attempts/" + attempt + "/" }

// usersPartPath holds the users of consecutive batches from first, as the planner (attempt)
// wrote them (batchusers.go); the plan names its attempt, so two planners racing never mix
// their batches.
func usersPartPath(plan, attempt string, first int) string {
	return fmt.Sprintf("%susers-%06d.json", attemptDir(plan, attempt), first)
}

// batchUsersPath holds the users of one batch in a plan of format 1 (planFormatBatchFiles).
func batchUsersPath(plan, attempt string, batch int) string {
	return fmt.Sprintf("%sbatch-%06d.json", attemptDir(plan, attempt), batch)
}

func batchDoneDir(plan, attempt string) string { return attemptDir(plan, attempt) + "done/" }

// batchDonePath is batch's done object (done.go): its record, and its staged rows when they
// fit in it.
func batchDonePath(plan, attempt string, batch int) string {
	return fmt.Sprintf("%sbatch-%06d.done", batchDoneDir(plan, attempt), batch)
}

// legacyBatchDonePath is batch's done record as a binary before wrote it: JSON alone.
func legacyBatchDonePath(plan, attempt string, batch int) string {
	return fmt.Sprintf("%sbatch-%06d.json", batchDoneDir(plan, attempt), batch)
}

// parseBatchDone is the batch whose done object (or record of a binary before) name is.
func parseBatchDone(plan, attempt, name string) (int, bool) {
	var b int
	base := strings.TrimPrefix(name, batchDoneDir(plan, attempt))
	if n, err := fmt.Sscanf(base, "batch-%06d.", &b); err != nil || n != 1 {
		return 0, false
	}
	return b, batchDonePath(plan, attempt, b) == name || legacyBatchDonePath(plan, attempt, b) == name
}

// stagedBatchPath is part part of the staged rows of batch (staged.go): an Arrow IPC file of
// the batch's rows of every day, grouped by day, which the batch's done record indexes.
func stagedBatchPath(plan, attempt string, batch, part int) string {
	return fmt.Sprintf("%sstaged/batch-%06d-%03d%s", attemptDir(plan, attempt), batch, part, stagedExt)
}

// legacyStagedDir holds the staged rows of day of every finished batch of one instance of
// plan, as the binaries before the one-object-per-batch layout staged them (one file per batch
// and day); Merge still reads them, so that a plan staged before an upgrade publishes.
func legacyStagedDir(plan, attempt, day string) string {
	return attemptDir(plan, attempt) + "staged/dt=" + day + "/"
}

// legacyStagedPath is the staged file of batch's rows of day in the layout before
// (legacyStagedDir): batch-NNNNNN.arrow, or batch-NNNNNN.parquet (legacyStagedExt) from the
// binaries before Arrow staging.
func legacyStagedPath(plan, attempt, day string, batch int) string {
	return fmt.Sprintf("%sbatch-%06d%s", legacyStagedDir(plan, attempt, day), batch, stagedExt)
}

// checkDay validates a YYYY-MM-DD day.
func checkDay(day string) error {
	if _, err := schema.ParseDay(day); err != nil {
		return fmt.Errorf("invalid day: %w", err)
	}
	return nil
}

// checkID refuses run and plan ids that cannot be one path segment.
func checkID(what, id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 200 {
		return fmt.Errorf("invalid %s %q", what, id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':' || r == '+'
		if !ok {
			return fmt.Errorf("invalid %s %q: only letters, digits and -_.:+", what, id)
		}
	}
	return nil
}

func checkRunID(runID string) error { return checkID("run id", runID) }

func checkBatch(batch int) error {
	if batch < 0 || batch > maxBatches {
		return fmt.Errorf("invalid batch %d (0..%d)", batch, maxBatches)
	}
	return nil
}
