package schema

import "time"

// Message is one row of the messages table. Pointer fields are nullable columns: nil is NULL.
// Non-pointer strings are NOT NULL columns (an absent source value is the empty string).
type Message struct {
	CustomerID    string  // customer_id: the customerId the export was configured with
	BotKey        string  // bot_key: the botKey the export was configured with
	ChannelUserID string  // channel_user_id: the user's id from the User API
	Channel       *string // channel: the user's channel from the User API (whatsapp, web, ...)
	UserID        *string // user_id: the message's own user_id field (a session UUID on web)

	Sender      string  // sender: lower case (user, bot, agent, or what the source sent)
	MessageType string  // message_type: upper case (TEXT, OPTIONS, ...; an open set)
	Text        *string // text: the message's response field as sent

	SentAt          time.Time // sent_at: the message's timestamp in UTC, millisecond precision
	SourceTimestamp string    // source_timestamp: the timestamp exactly as sent (a string, or a number's JSON text)

	FileURL        *string  // file_url: file.url
	FileMimeType   *string  // file_mime_type: file.mimeType
	FileUploadType *string  // file_upload_type: file.uploadType
	AgentID        *string  // agent_id: agentId from an AGENT_PARTICIPATION_STATUS response
	Options        []string // options: the items of an OPTIONS response; nil is NULL

	TemplateName     *string // template_name: template.name
	TemplateLanguage *string // template_language: template.language
	BroadcastID      *string // broadcast_id: template.broadcast_id

	ExtraJSON *string // extra_json: a JSON object of every source field no column models; nil if none

	MessageKey  string    // message_key: deterministic key of the message, unique in the lake
	RunID       string    // run_id: the run that wrote the row
	ExtractedAt time.Time // extracted_at: when the run read the message, UTC
}

// User is one row of the users table: one exported user as the User API described it in one run.
type User struct {
	CustomerID      string
	BotKey          string
	ChannelUserID   string
	Channel         *string
	CreatedAt       *time.Time // created_at, parsed to UTC; nil when absent or unparseable
	SourceCreatedAt *string    // source_created_at: created_at exactly as sent
	AttributesJSON  string     // attributes_json: the user's attributes as a JSON object
	Selectors       []string   // selectors: the NAME=VALUE selectors that matched the user
	ExtraJSON       *string    // extra_json: every other field of the user object
	RunID           string
	ExtractedAt     time.Time
}
