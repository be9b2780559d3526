package storagetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/chatlake/chatlake/load/storage/storagetest"
)

// UpdateTable with a stale VersionId: moto's own server accepts it (the later writer silently
// overwrites the earlier: the reason StartMotoGlue exists; if this case ever fails, moto learned
// the check and StartMotoGlue can go), StartMotoGlue's refuses it with
// ConcurrentModificationException, as AWS Glue does.
func TestMotoGlueVersionID(t *testing.T) {
	cases := []struct {
		name     string
		start    func(t *testing.T) string
		enforced bool
	}{
		{"moto", func(t *testing.T) string { e, _ := storagetest.StartMoto(t); return e }, false},
		{"StartMotoGlue", func(t *testing.T) string { return storagetest.StartMotoGlue(t) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := glue.New(glue.Options{
				Region:       storagetest.MotoRegion,
				BaseEndpoint: aws.String(tc.start(t)),
				Credentials:  credentials.NewStaticCredentialsProvider(storagetest.MotoAccessKey, storagetest.MotoSecretKey, ""),
			})
			db, name := aws.String("db"), aws.String("t")
			if _, err := c.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: db}}); err != nil {
				t.Fatal(err)
			}
			input := func(v string) *types.TableInput {
				return &types.TableInput{Name: name, Parameters: map[string]string{"v": v}}
			}
			if _, err := c.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: db, TableInput: input("0")}); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetTable(ctx, &glue.GetTableInput{DatabaseName: db, Name: name})
			if err != nil {
				t.Fatal(err)
			}
			version := got.Table.VersionId
			for i, v := range []string{"1", "2"} { // two writers that both read version
				_, err := c.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: db, TableInput: input(v), VersionId: version})
				stale := i == 1 && tc.enforced
				if cme := new(*types.ConcurrentModificationException); stale != errors.As(err, cme) {
					t.Fatalf("update %d from version %s: %v; want a ConcurrentModificationException: %v", i+1, *version, err, stale)
				}
			}
			got, err = c.GetTable(ctx, &glue.GetTableInput{DatabaseName: db, Name: name})
			if err != nil {
				t.Fatal(err)
			}
			want := map[bool]string{false: "2", true: "1"}[tc.enforced]
			if got.Table.Parameters["v"] != want {
				t.Errorf("table holds update %s, want %s", got.Table.Parameters["v"], want)
			}
		})
	}
}
