package ddl

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// dialect is what differs between the engines' SQL in the definitions. Everything else (window
// functions, CASE, COUNT(DISTINCT), CTEs) is written once for all of them.
type dialect struct {
	engine Engine
	// epochMS is an expression for the epoch milliseconds of timestamp expression ts,
	// independent of the session's time zone.
	epochMS func(ts string) string
	// md5Hex is the lower-case hex MD5 of a string expression.
	md5Hex func(s string) string
	// utcDate is the UTC day (a DATE) of timestamp expression ts, independent of the
	// session's time zone: an Iceberg lake's users table has no snapshot_date column, it is
	// the day of extracted_at.
	utcDate func(ts string) string
	str     string // the string type, for CAST
	double  string // the double type, for CAST
	// colType maps an Arrow type of the schemas to the engine's column type.
	colType func(arrow.DataType) (string, bool)
}

func dialectOf(e Engine, f TableFormat) dialect {
	switch e {
	case BigQuery:
		return dialect{engine: e,
			epochMS: func(ts string) string { return "UNIX_MILLIS(" + ts + ")" },
			md5Hex:  func(s string) string { return "TO_HEX(MD5(" + s + "))" },
			utcDate: func(ts string) string { return "DATE(" + ts + ", 'UTC')" },
			str:     "STRING", double: "FLOAT64",
			colType: typeNames("STRING", "TIMESTAMP", "ARRAY<STRING>"),
		}
	case Spark:
		return dialect{engine: e,
			epochMS: func(ts string) string { return "unix_millis(" + ts + ")" },
			md5Hex:  func(s string) string { return "md5(" + s + ")" },
			utcDate: func(ts string) string {
				return "date_from_unix_date(CAST(floor(unix_millis(" + ts + ") / 86400000) AS INT))"
			},
			str: "STRING", double: "DOUBLE",
			colType: typeNames("STRING", "TIMESTAMP", "ARRAY<STRING>"),
		}
	case Trino, Athena:
		// Athena (engine version 3) runs Trino's SQL; only its table DDL is Hive's.
		d := dialect{engine: e,
			// The Hive connector reads the files' UTC timestamps as timestamp(3) without a
			// zone; date_diff on two such values is plain arithmetic, whatever the session zone.
			epochMS: func(ts string) string {
				return "date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000', " + ts + ")"
			},
			md5Hex:  func(s string) string { return "lower(to_hex(md5(to_utf8(" + s + "))))" },
			utcDate: func(ts string) string { return "CAST(" + ts + " AT TIME ZONE 'UTC' AS date)" },
			str:     "varchar", double: "double",
			colType: typeNames("varchar", "timestamp(3)", "array(varchar)"),
		}
		if f == Iceberg {
			// The Iceberg connector reads timestamptz as timestamp(6) with time zone: the
			// epoch is one too, or date_diff would mix in the session's zone.
			d.epochMS = func(ts string) string {
				return "date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', " + ts + ")"
			}
			d.colType = typeNames("varchar", "timestamp(6) with time zone", "array(varchar)")
		}
		if e == Athena {
			d.colType = typeNames("STRING", "TIMESTAMP", "ARRAY<STRING>")
		}
		return d
	case Snowflake:
		return dialect{engine: e,
			epochMS: func(ts string) string { return "DATE_PART(EPOCH_MILLISECOND, " + ts + ")" },
			md5Hex:  func(s string) string { return "MD5(" + s + ")" },
			utcDate: func(ts string) string { return "TO_DATE(CONVERT_TIMEZONE('UTC', " + ts + "))" },
			str:     "VARCHAR", double: "DOUBLE",
			colType: typeNames("VARCHAR", "TIMESTAMP_LTZ", "ARRAY"),
		}
	default:
		return dialect{engine: DuckDB,
			epochMS: func(ts string) string { return "epoch_ms(" + ts + ")" },
			md5Hex:  func(s string) string { return "md5(" + s + ")" },
			utcDate: func(ts string) string { return "CAST(timezone('UTC', " + ts + ") AS DATE)" },
			str:     "VARCHAR", double: "DOUBLE",
			colType: typeNames("VARCHAR", "TIMESTAMP WITH TIME ZONE", "VARCHAR[]"),
		}
	}
}

// typeNames maps the three Arrow types the schemas use. Any other type is refused, so a new
// column type in schema/ fails the generator (and its tests) instead of printing a wrong one.
func typeNames(utf8, tsUTC, strList string) func(arrow.DataType) (string, bool) {
	return func(t arrow.DataType) (string, bool) {
		switch t := t.(type) {
		case *arrow.StringType:
			return utf8, true
		case *arrow.TimestampType:
			if t.Unit == arrow.Millisecond && t.TimeZone == "UTC" {
				return tsUTC, true
			}
		case *arrow.ListType:
			if _, ok := t.Elem().(*arrow.StringType); ok {
				return strList, true
			}
		}
		return "", false
	}
}

// column is one column of a table definition.
type column struct{ name, typ string }

// columns returns the columns of s in the engine's types.
func (d dialect) columns(s *arrow.Schema) ([]column, error) {
	out := make([]column, 0, s.NumFields())
	for _, f := range s.Fields() {
		typ, ok := d.colType(f.Type)
		if !ok {
			return nil, fmt.Errorf("column %s: no %s type for Arrow type %s", f.Name, d.engine, f.Type)
		}
		out = append(out, column{f.Name, typ})
	}
	return out, nil
}

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// quote is a SQL string literal. parseLake refuses quotes and backslashes, so no engine's
// escaping rules come into play.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
