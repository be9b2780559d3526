package schema

import "github.com/apache/arrow-go/v18/arrow"

// Schema versions. A version changes whenever a column of its table is added, removed, renamed,
// retyped or changes nullability, or when the meaning of a value changes (for example the
// derivation of message_key). Every file records the version it was written with in its
// metadata (MetaSchemaVersion).
const (
	MessagesVersion = "1"
	UsersVersion    = "1"
)

// Keys of the schema metadata written into every file.
const (
	MetaTable         = "chatlake.table"
	MetaSchemaVersion = "chatlake.schema_version"
)

// Table names, as written under MetaTable and used as the lake's top-level directories.
const (
	MessagesTable = "messages"
	UsersTable    = "users"
)

// Column indexes of Messages(), in order.
const (
	colMsgCustomerID = iota
	colMsgBotKey
	colMsgChannelUserID
	colMsgChannel
	colMsgUserID
	colMsgSender
	colMsgMessageType
	colMsgText
	colMsgSentAt
	colMsgSourceTimestamp
	colMsgFileURL
	colMsgFileMimeType
	colMsgFileUploadType
	colMsgAgentID
	colMsgOptions
	colMsgTemplateName
	colMsgTemplateLanguage
	colMsgBroadcastID
	colMsgExtraJSON
	colMsgMessageKey
	colMsgRunID
	colMsgExtractedAt
	numMsgCols
)

// Column indexes of Users(), in order.
const (
	colUserCustomerID = iota
	colUserBotKey
	colUserChannelUserID
	colUserChannel
	colUserCreatedAt
	colUserSourceCreatedAt
	colUserAttributesJSON
	colUserSelectors
	colUserExtraJSON
	colUserRunID
	colUserExtractedAt
	numUserCols
)

// timestampMS is timestamp[ms, tz=UTC]: Parquet TIMESTAMP(MILLIS, isAdjustedToUTC=true).
func timestampMS() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
}

// stringList is list<utf8> whose items are never null (a Go []string has no null items).
func stringList() arrow.DataType { return arrow.ListOfNonNullable(arrow.BinaryTypes.String) }

func str(name string, nullable bool) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: nullable}
}

// Messages returns the Arrow schema of the messages table, one column per field of Message, in
// this order. Each call returns a new *arrow.Schema; callers may keep it.
func Messages() *arrow.Schema {
	fields := make([]arrow.Field, numMsgCols)
	fields[colMsgCustomerID] = str("customer_id", false)
	fields[colMsgBotKey] = str("bot_key", false)
	fields[colMsgChannelUserID] = str("channel_user_id", false)
	fields[colMsgChannel] = str("channel", true)
	fields[colMsgUserID] = str("user_id", true)
	fields[colMsgSender] = str("sender", false)
	fields[colMsgMessageType] = str("message_type", false)
	fields[colMsgText] = str("text", true)
	fields[colMsgSentAt] = arrow.Field{Name: "sent_at", Type: timestampMS(), Nullable: false}
	fields[colMsgSourceTimestamp] = str("source_timestamp", false)
	fields[colMsgFileURL] = str("file_url", true)
	fields[colMsgFileMimeType] = str("file_mime_type", true)
	fields[colMsgFileUploadType] = str("file_upload_type", true)
	fields[colMsgAgentID] = str("agent_id", true)
	fields[colMsgOptions] = arrow.Field{Name: "options", Type: stringList(), Nullable: true}
	fields[colMsgTemplateName] = str("template_name", true)
	fields[colMsgTemplateLanguage] = str("template_language", true)
	fields[colMsgBroadcastID] = str("broadcast_id", true)
	fields[colMsgExtraJSON] = str("extra_json", true)
	fields[colMsgMessageKey] = str("message_key", false)
	fields[colMsgRunID] = str("run_id", false)
	fields[colMsgExtractedAt] = arrow.Field{Name: "extracted_at", Type: timestampMS(), Nullable: false}
	md := arrow.NewMetadata(
		[]string{MetaTable, MetaSchemaVersion},
		[]string{MessagesTable, MessagesVersion},
	)
	return arrow.NewSchema(fields, &md)
}

// Users returns the Arrow schema of the users table, one column per field of User, in this
// order. The table is partitioned by snapshot_date in the path (users/snapshot_date=YYYY-MM-DD),
// which is not a column of the files.
func Users() *arrow.Schema {
	fields := make([]arrow.Field, numUserCols)
	fields[colUserCustomerID] = str("customer_id", false)
	fields[colUserBotKey] = str("bot_key", false)
	fields[colUserChannelUserID] = str("channel_user_id", false)
	fields[colUserChannel] = str("channel", true)
	fields[colUserCreatedAt] = arrow.Field{Name: "created_at", Type: timestampMS(), Nullable: true}
	fields[colUserSourceCreatedAt] = str("source_created_at", true)
	fields[colUserAttributesJSON] = str("attributes_json", false)
	fields[colUserSelectors] = arrow.Field{Name: "selectors", Type: stringList(), Nullable: true}
	fields[colUserExtraJSON] = str("extra_json", true)
	fields[colUserRunID] = str("run_id", false)
	fields[colUserExtractedAt] = arrow.Field{Name: "extracted_at", Type: timestampMS(), Nullable: false}
	md := arrow.NewMetadata(
		[]string{MetaTable, MetaSchemaVersion},
		[]string{UsersTable, UsersVersion},
	)
	return arrow.NewSchema(fields, &md)
}
