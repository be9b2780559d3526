package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/chatlake/chatlake/internal/lakecheck"
	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// TestIcebergGlueCatalog: a backfill of a local Iceberg lake whose catalog is AWS Glue (moto,
// reached through the standard AWS configuration only) registers both tables in the Glue
// database chatlake; the snapshot the Glue table points at, read independently, equals the
// simulator's truth; verify and status read it through --catalog glue:.
func TestIcebergGlueCatalog(t *testing.T) {
	endpoint := storagetest.StartMotoGlue(t)
	s := startSim(t, 24, 12, nil)
	truth := s.Truth(nil, s.opts.From, s.opts.To, s.opts.To.AddDate(1, 0, 0))
	awsEnv := append(storagetest.MotoEnv(), "AWS_ENDPOINT_URL_GLUE="+endpoint, "AWS_PROFILE=", "AWS_ENDPOINT_URL=")
	env := append([]string{apiKeyEnv + "=" + s.opts.APIKey}, awsEnv...)
	dir := t.TempDir()
	args := s.exportArgs("backfill", dir, "--table-format", "iceberg", "--catalog", "glue:", "--log-format", "json")
	code, stderr := runChild(t, env, args...)
	if code != exitOK {
		t.Fatalf("backfill exits %d: %s", code, lastLine(stderr))
	}
	if strings.Contains(stderr, storagetest.MotoSecretKey) || strings.Contains(stderr, storagetest.MotoAccessKey) {
		t.Error("the run's log shows an AWS credential")
	}

	gc := glue.New(glue.Options{
		Region:       storagetest.MotoRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(storagetest.MotoAccessKey, storagetest.MotoSecretKey, ""),
	})
	metadata := func(table string) string {
		out, err := gc.GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String("chatlake"), Name: aws.String(table)})
		if err != nil {
			t.Fatalf("Glue table chatlake.%s: %v", table, err)
		}
		if typ := out.Table.Parameters["table_type"]; !strings.EqualFold(typ, "ICEBERG") {
			t.Errorf("Glue table chatlake.%s has table_type %q", table, typ)
		}
		return out.Table.Parameters["metadata_location"]
	}
	cur := lakecheck.ReadSnapshot(t, metadata("messages"))
	if diff := lakecheck.Compare(rows(t, cur), truth); diff != "" {
		t.Fatal(diff)
	}
	if cur.Summary[load.SnapshotPlan] == "" {
		t.Errorf("the snapshot's summary names no plan: %v", cur.Summary)
	}
	if users := lakecheck.ReadSnapshot(t, metadata("users")); len(users.Files) == 0 {
		t.Error("the users table has no file")
	}

	if code, out := runChild(t, awsEnv, "verify", "--lake", dir, "--catalog", "glue:"); code != exitOK {
		t.Fatalf("verify exits %d: %s", code, out)
	}
	for _, kv := range awsEnv { // status runs in this process
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	code, stdout, stderr := runCmd(t, "status", "--lake", dir, "--catalog", "glue:", "--json")
	if code != exitOK {
		t.Fatalf("status exits %d: %s", code, stderr)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.TableFormat != load.TableFormatIceberg || cur.ID == nil || st.Snapshots["messages"].ID != *cur.ID {
		t.Errorf("status says format %q snapshots %+v; the Glue table's current snapshot is %v", st.TableFormat, st.Snapshots, cur.ID)
	}
}
