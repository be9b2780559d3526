package ddl

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/chatlake/chatlake/load"
	"github.com/chatlake/chatlake/schema"
)

// snowflakeStage is the name of the stage over the lake's root.
const snowflakeStage = "chatlake_lake"

// azureBlobHost ends the host of an Azure storage account's blob endpoint.
const azureBlobHost = ".blob.core.windows.net"

// stageLake reads the lake URL of a Snowflake external stage, which names the cloud location
// in Snowflake's own form: s3://BUCKET/PREFIX as it is, gs://BUCKET/PREFIX as
// gcs://BUCKET/PREFIX, and az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX (or azure://)
// as azure://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX. az://CONTAINER/PREFIX is refused:
// the stage needs the account, which only the fully qualified form names. A local lake is
// refused: Snowflake reads only cloud storage.
func stageLake(raw string) (lake, error) {
	const want = "s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://ACCOUNT" + azureBlobHost + "/CONTAINER/PREFIX"
	if strings.TrimSpace(raw) == "" {
		return lake{}, optErr("Lake", "required: %s", want)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool {
		return r < 0x20 || r == 0x7f || strings.ContainsRune(`'\*?[]{}`, r)
	}); i >= 0 {
		return lake{}, optErr("Lake", "%q holds %q, which the definitions cannot quote or glob safely", raw, raw[i:i+1])
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return lake{}, optErr("Lake", "%q: Snowflake reads a lake in cloud storage: %s", raw, want)
	}
	prefix := strings.Trim(u.Path, "/")
	var root string
	switch u.Scheme {
	case "s3":
		root = "s3://" + u.Host
	case "gs":
		root = "gcs://" + u.Host
	case "az", "azure":
		if !strings.HasSuffix(u.Host, azureBlobHost) {
			return lake{}, optErr("Lake", "%q: a Snowflake stage names the storage account: az://ACCOUNT%s/CONTAINER/PREFIX", raw, azureBlobHost)
		}
		container, rest, _ := strings.Cut(prefix, "/")
		if container == "" {
			return lake{}, optErr("Lake", "%q has no container: az://ACCOUNT%s/CONTAINER/PREFIX", raw, azureBlobHost)
		}
		root, prefix = "azure://"+u.Host+"/"+container, rest
	default:
		return lake{}, optErr("Lake", "%q: Snowflake reads a lake in cloud storage: %s", raw, want)
	}
	if prefix != "" {
		root += "/" + prefix
	}
	return lake{root: root}, nil
}

// snowflake prints a stage over the lake's root and an external table over each table's
// directory, partitioned by the date in the files' paths.
func (g *gen) snowflake(b *bytes.Buffer, msgCols, userCols []column) {
	stage := g.table(snowflakeStage)
	fmt.Fprintf(b, "-- The stage uses the storage integration %s, which an administrator creates once,\n"+
		"-- allowed to read %s/, and grants (GRANT USAGE ON INTEGRATION %s TO ROLE ...):\n"+
		"--   CREATE STORAGE INTEGRATION %s TYPE = EXTERNAL_STAGE ENABLED = TRUE\n"+
		"--     STORAGE_PROVIDER = '%s' ... STORAGE_ALLOWED_LOCATIONS = ('%s/');\n",
		g.o.StorageIntegration, g.lake.root, g.o.StorageIntegration, g.o.StorageIntegration,
		storageProvider(g.lake.root), g.lake.root)
	b.WriteString("-- Timestamps are TIMESTAMP_LTZ, shown in the session's TIMEZONE: ALTER SESSION SET TIMEZONE = 'UTC'; to see UTC.\n")
	fmt.Fprintf(b, "\nCREATE SCHEMA IF NOT EXISTS %s;\n", g.o.Schema)
	fmt.Fprintf(b, "\nCREATE STAGE IF NOT EXISTS %s\n  URL = %s\n  STORAGE_INTEGRATION = %s;\n",
		stage, quote(g.lake.root+"/"), g.o.StorageIntegration)
	table := func(table, part string, cols []column) {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = fmt.Sprintf("%s %s AS (VALUE:%s::%s)", c.name, c.typ, c.name, c.typ)
		}
		dir := load.TableDir(table)
		// The partition value is the directory "part=VALUE" of the file's path below the stage.
		partExpr := fmt.Sprintf("TO_DATE(SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '/%s=', 2), '/', 1))", part)
		fmt.Fprintf(b, "\nCREATE OR REPLACE EXTERNAL TABLE %s (\n  %s,\n  %s DATE AS (%s)\n)\n"+
			"PARTITION BY (%s)\nLOCATION = @%s/%s/\nREFRESH_ON_CREATE = TRUE\nAUTO_REFRESH = FALSE\n"+
			"PATTERN = '.*/%s=[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]+[.]parquet'\n"+
			"FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE);\n",
			g.table(table), strings.Join(defs, ",\n  "), part, partExpr, part, stage, dir, part)
		fmt.Fprintf(b, "\n-- Registers the files written since (new days, replaced files); run it after every export.\nALTER EXTERNAL TABLE %s REFRESH;\n", g.table(table))
	}
	table(schema.MessagesTable, messagesPartition, msgCols)
	table(schema.UsersTable, usersPartition, userCols)
}

// storageProvider is the STORAGE_PROVIDER of a storage integration for a stage URL.
func storageProvider(root string) string {
	switch {
	case strings.HasPrefix(root, "s3://"):
		return "S3"
	case strings.HasPrefix(root, "gcs://"):
		return "GCS"
	}
	return "AZURE"
}
