package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/icetable"
	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
	"github.com/chatlake/chatlake/sim"
)

// cloudIcebergLake reads an Iceberg lake on a cloud store's emulator back independently of the
// code that wrote it: the catalog's SQLite file with Python's sqlite3, the lake's objects copied
// to a local directory through the store, the metadata there with read_snapshot.py (its
// --root-map takes the store's root URI to the copy) and the data files with DuckDB.
type cloudIcebergLake struct {
	crashLake
	root, catalogDB string
}

// copyOf downloads the lake's objects as they are now.
func (l cloudIcebergLake) copyOf(t *testing.T) lakecheck.CloudCopy {
	t.Helper()
	c := lakecheck.CloudCopy{Root: l.root, Dir: t.TempDir()}
	if err := lakecheck.Download(context.Background(), l.store, c.Dir); err != nil {
		t.Fatal(err)
	}
	return c
}

// metadata is the current metadata file of table, from the catalog; it must be below the root.
func (l cloudIcebergLake) metadata(t *testing.T, table string) string {
	t.Helper()
	loc := lakecheck.MetadataLocation(t, l.catalogDB, table)
	if !strings.HasPrefix(loc, l.root+"/") {
		t.Fatalf("the catalog's metadata of %s is %q, want a URI below %s", table, loc, l.root)
	}
	return loc
}

// currentRows reads the rows of the messages table's current snapshot.
func (l cloudIcebergLake) currentRows(t *testing.T) []lakecheck.Row {
	t.Helper()
	c := l.copyOf(t)
	cur := c.ReadSnapshot(t, l.metadata(t, "messages"))
	return rows(t, lakecheck.Snapshot{ID: cur.ID, Files: c.Local(t, cur.Files)})
}

// check reads the current snapshot of the messages table and compares its rows with want; it
// returns every snapshot the table's metadata holds, and the copy they were read from.
func (l cloudIcebergLake) check(t *testing.T, want []sim.Message) (lakecheck.CloudCopy, []lakecheck.Snapshot) {
	t.Helper()
	c := l.copyOf(t)
	meta := l.metadata(t, "messages")
	cur := c.ReadSnapshot(t, meta)
	if diff := lakecheck.Compare(rows(t, lakecheck.Snapshot{ID: cur.ID, Files: c.Local(t, cur.Files)}), want); diff != "" {
		t.Fatal(diff)
	}
	return c, c.ReadSnapshots(t, meta)
}

// TestIcebergCloudLake runs `chatlake backfill --table-format iceberg --catalog sqlite:PATH`
// into a lake on each cloud store's emulator (fake-gcs-server, moto, Azurite), the child
// reaching it through the same settings as a Hive lake (STORAGE_EMULATOR_HOST; the AWS
// environment with CHATLAKE_S3_ENDPOINT and CHATLAKE_S3_PATH_STYLE; an Azure connection
// string): the current snapshot, read independently, equals the simulator's truth and records
// URIs engines read (gs://, s3://, abfss://); verify (without --catalog: the lake's mode record
// names it) and status read the lake, on Azure also through a SAS token instead of the
// connection string; no output shows an Azure secret. On S3 a second backfill makes one more
// snapshot with the same rows, and forget leaves one snapshot of each table, none of whose
// files (nor any Parquet object left in the bucket) holds the erased user.
func TestIcebergCloudLake(t *testing.T) {
	for _, c := range []struct {
		kind, root string
		more       bool // a rerun and forget as well
	}{
		{"gcs", "gs://lake/analytics/chat", false},
		{"s3", "s3://lake/analytics/chat", true},
		{"azure", "abfss://lake@ACCOUNT" + icetable.ADLSHostSuffix + "/analytics/chat", false},
	} {
		t.Run(c.kind, func(t *testing.T) {
			s := startSim(t, 24, 12, nil)
			truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
			lake := cloudIcebergLake{crashLake: crashLakeOf(t, c.kind), root: c.root}
			for _, e := range lake.env { // Azurite's account
				if k, v, _ := strings.Cut(e, "="); k == storage.EnvAzureConnectionString {
					lake.root = strings.Replace(lake.root, "ACCOUNT", storagetest.ConnPart(t, v, "AccountName"), 1)
				}
			}
			lake.catalogDB = t.TempDir() + "/catalog.db"
			catalog := []string{"--catalog", "sqlite:" + lake.catalogDB}
			env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, lake.env...)
			args := s.exportArgs("backfill", lake.url, append([]string{"--table-format", "iceberg", "--log-format", "json"}, catalog...)...)
			var outputs []string
			run := func(env []string, args ...string) {
				t.Helper()
				code, stderr := runChild(t, env, args...)
				outputs = append(outputs, stderr)
				if code != exitOK {
					t.Fatalf("%s exits %d: %s", args[0], code, lastLine(stderr))
				}
			}
			run(env, args...)
			_, snaps := lake.check(t, truth)
			if len(snaps) != 1 || snaps[0].Summary[load.SnapshotPlan] == "" {
				t.Errorf("a backfill made %d snapshots (want 1, its summary naming the plan)", len(snaps))
			}
			// The lake's mode record names its catalog: the commands that do not export find it.
			run(lake.env, "verify", "--lake", lake.url)
			run(lake.env, append([]string{"status", "--lake", lake.url}, catalog...)...)
			var secrets []string
			for _, e := range lake.env {
				k, cs, _ := strings.Cut(e, "=")
				if k != storage.EnvAzureConnectionString {
					continue
				}
				// A SAS token instead of the connection string: the same tables, read through
				// --azure-endpoint and --azure-sas-file (the FileIO gets both).
				key := storagetest.ConnPart(t, cs, "AccountKey")
				tok := storagetest.ContainerSAS(t, key, "lake")
				sasFile := filepath.Join(t.TempDir(), "sas")
				if err := os.WriteFile(sasFile, []byte(tok), 0o600); err != nil {
					t.Fatal(err)
				}
				sas := []string{"--azure-endpoint", storagetest.ConnPart(t, cs, "BlobEndpoint"), "--azure-sas-file", sasFile}
				sasEnv := []string{storage.EnvAzureConnectionString + "="}
				run(sasEnv, append([]string{"verify", "--lake", lake.url}, sas...)...)
				run(sasEnv, append([]string{"status", "--lake", lake.url}, sas...)...)
				secrets = append(secrets, key, tok, sasSig(tok))
			}

			if c.more {
				run(env, append(args, "--restart")...)
				if _, snaps := lake.check(t, truth); len(snaps) != 2 {
					t.Errorf("two backfills made %d snapshots, want 2", len(snaps))
				}
				gone := truth[0].ChannelUserID
				run(lake.env, "forget", "--lake", lake.url, "--user", gone, "--log-format", "json")
				var kept []sim.Message
				for _, m := range truth {
					if m.ChannelUserID != gone {
						kept = append(kept, m)
					}
				}
				cp, _ := lake.check(t, kept)
				for _, table := range []string{"messages", "users"} {
					snaps := cp.ReadSnapshots(t, lake.metadata(t, table))
					if len(snaps) != 1 {
						t.Errorf("%s: %d snapshots after forget, want 1", table, len(snaps))
					}
					for _, sn := range snaps {
						for _, f := range cp.Local(t, sn.Files) {
							if holds(t, f.Path, gone) {
								t.Errorf("%s snapshot %v references %s, which holds the erased user", table, sn.ID, f.Path)
							}
						}
					}
				}
				// Nor does any object left in the bucket (the files only older snapshots held
				// were deleted through the FileIO or the store).
				err := filepath.WalkDir(cp.Dir, func(path string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") && holds(t, "file://"+path, gone) {
						t.Errorf("%s holds the erased user", strings.TrimPrefix(path, cp.Dir))
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, secret := range secrets {
				for _, o := range outputs {
					if strings.Contains(o, secret) {
						t.Fatalf("an output shows an Azure secret: %s", o)
					}
				}
			}
		})
	}
}

// TestIcebergGlueS3Lake: an Iceberg lake on s3:// whose catalog is AWS Glue, both on one moto
// server (the way Athena reads a lake): the Glue table's metadata file is an s3:// URI below the
// lake, and the current snapshot it names, read independently, equals the simulator's truth;
// verify reads the lake.
func TestIcebergGlueS3Lake(t *testing.T) {
	endpoint := storagetest.StartMotoGlue(t)
	client := storagetest.MotoClient(endpoint)
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	s := startSim(t, 25, 12, nil)
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	awsEnv := append(s3Env(endpoint), "AWS_ENDPOINT_URL_GLUE="+endpoint, "AWS_PROFILE=", "AWS_ENDPOINT_URL=")
	const url = "s3://lake/analytics/chat"
	const root = url // on S3 the metadata's URIs are the lake's own
	args := s.exportArgs("backfill", url, "--table-format", "iceberg", "--catalog", "glue:", "--log-format", "json")
	if code, stderr := runChild(t, append([]string{apiKeyEnv + "=" + s.opts.APIKey}, awsEnv...), args...); code != exitOK {
		t.Fatalf("backfill exits %d: %s", code, lastLine(stderr))
	}
	gc := glue.New(glue.Options{
		Region:       storagetest.MotoRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(storagetest.MotoAccessKey, storagetest.MotoSecretKey, ""),
	})
	out, err := gc.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String("chatlake"), Name: aws.String("messages")})
	if err != nil {
		t.Fatal(err)
	}
	meta := out.Table.Parameters["metadata_location"]
	if !strings.HasPrefix(meta, root+"/messages/metadata/") {
		t.Fatalf("the Glue table's metadata is %q, want a file below %s/messages/metadata/", meta, root)
	}
	c := lakecheck.CloudCopy{Root: root, Dir: t.TempDir()}
	if err := lakecheck.Download(t.Context(), storage.NewS3(client, "lake", "analytics/chat"), c.Dir); err != nil {
		t.Fatal(err)
	}
	cur := c.ReadSnapshot(t, meta)
	if diff := lakecheck.Compare(rows(t, lakecheck.Snapshot{ID: cur.ID, Files: c.Local(t, cur.Files)}), truth); diff != "" {
		t.Fatal(diff)
	}
	if code, out := runChild(t, awsEnv, "verify", "--lake", url); code != exitOK {
		t.Fatalf("verify exits %d: %s", code, lastLine(out))
	}
}

// TestIcebergKilledPublishingOnS3 is TestIcebergKilledPublishing on an s3:// lake (moto): a
// publisher killed five times while it publishes a backfill over an older one leaves the
// table's current snapshot at the old run or the whole new one, never part of it, and the rerun
// converges to the truth.
func TestIcebergKilledPublishingOnS3(t *testing.T) {
	s := startSim(t, 26, 40, nil)
	lake := cloudIcebergLake{crashLake: crashLakeOf(t, "s3"), root: "s3://lake/analytics/chat"}
	lake.catalogDB = t.TempDir() + "/catalog.db"
	killPublishing(t, s, lake.url, lake.env, []string{"--catalog", "sqlite:" + lake.catalogDB}, lake.currentRows)
}
