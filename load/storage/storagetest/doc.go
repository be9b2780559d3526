// Package storagetest is the conformance suite that every storage.Store backend runs
// (storage.Local, storage.GCS, storage.S3, storage.Azure), in the manner of go-cloud's
// blob/drivertest, an in-process fake GCS server for tests (StartFakeGCS; StartFakeGCSWrapped
// puts a handler of the test's in front of it, to watch the requests), moto's S3 server in a
// child process (StartMoto; MotoEnv is the environment that points the standard AWS
// configuration at it; StartMotoGlue is the same server with the VersionId check of AWS Glue's
// UpdateTable, which moto lacks, for the Iceberg catalog tests), gofakes3 in process (StartGoFakeS3), and Azure's blob emulator run as
// a child process (StartAzurite: azurite-blob from the npm package azurite, which .ci/run
// installs; without it a test is skipped, or fails when CI=true).
//
// Run checks what callers of a Store rely on: writes become visible whole at Close or not at
// all (Abort, a cancelled context, an abandoned writer), concurrent readers see one complete
// version, List is recursive, sorted and prefix-filtered without temporaries, missing objects
// give storage.ErrNotExist, PutIf and DeleteIf enforce versions (exactly one of racing writers
// wins), Move replaces its destination, and bad names are refused with storage.ErrBadName.
//
// Every subtest checks observable state, not the backend's calls, so a backend that skips a
// precondition fails even when its server does not enforce one.
//
// # Concurrency
//
// Run's subtests call newStore once each and may use the store from several goroutines (the
// racing-writer and concurrent-reader cases): the backend must be safe for concurrent use.
//
// # Errors
//
// What the suite finds is reported through t (t.Error, t.Fatal), never returned. StartFakeGCS,
// StartMoto and StartAzurite fail t if the server cannot start, and stop it when the test
// ends; without moto_server, StartMoto and StartMotoGlue skip the test, or fail it under
// CI=true.
package storagetest
