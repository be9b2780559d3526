package ddl

import (
	"fmt"
	"strings"

	"github.com/chatlake/chatlake/schema"
)

// The views are written once for every engine: window functions, CASE, COUNT(DISTINCT) and
// CTEs mean the same in DuckDB, BigQuery, Spark SQL and Trino. What differs (epoch
// milliseconds, MD5, type names) comes from the dialect.
//
// Order within a user is (sent_at, message_key): message_key is unique in the lake, so the
// order, and with it every "first" below, is total and the same on every engine and every run.

// userKey is the partition of a user's conversation.
const userKey = "customer_id, bot_key, channel_user_id"

// allDays is the WHERE clause the views put on messages: none, or, when BigQuery requires a
// partition filter, one that keeps every day (sessions and replies cross days, so the views
// must read them all).
func (g *gen) allDays(alias string) string {
	if !g.o.RequirePartitionFilter {
		return ""
	}
	if alias != "" {
		alias += "."
	}
	return fmt.Sprintf("%s%s >= DATE '1970-01-01'", alias, messagesPartition)
}

// usersLatest keeps each user's row of the newest snapshot, with its snapshot_date. An
// Iceberg lake's users table has no snapshot_date column: the view computes it, the UTC day
// of extracted_at (the day the table is partitioned by), so the view has the same columns
// whatever the table format.
func (g *gen) usersLatest(cols []string) string {
	day, order := "", usersPartition+" DESC, "
	if g.o.TableFormat == Iceberg {
		day, order = " "+g.d.utcDate("u.extracted_at")+" AS "+usersPartition+",", ""
	}
	return fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS
SELECT
  %s,
  %s
FROM (
  SELECT u.*,%s ROW_NUMBER() OVER (
           PARTITION BY %s
           ORDER BY %sextracted_at DESC, run_id DESC) AS snapshot_rank
  FROM %s u
) ranked
WHERE snapshot_rank = 1`, g.table(UsersLatestView), strings.Join(cols, ",\n  "), usersPartition,
		day, userKey, order, g.source(schema.UsersTable))
}

// gapped is the CTE "ordered": messages with gap_ms, the milliseconds since the user's
// previous message (NULL for the first). A message starts a session when gap_ms is NULL or
// longer than the session gap; sessions and broadcasts share this one definition.
func (g *gen) gapped(cols string) string {
	where := ""
	if f := g.allDays(""); f != "" {
		where = "\n  WHERE " + f
	}
	ep := g.d.epochMS("sent_at")
	return fmt.Sprintf(`ordered AS (
  SELECT %s,
         %s - LAG(%s) OVER (
           PARTITION BY %s ORDER BY sent_at, message_key) AS gap_ms
  FROM %s%s
)`, cols, ep, ep, userKey, g.source(schema.MessagesTable), where)
}

func (g *gen) startsSession() string {
	return fmt.Sprintf("gap_ms IS NULL OR gap_ms > %d", g.o.SessionGap.Milliseconds())
}

func (g *gen) sessions() string {
	d := g.d
	id := d.md5Hex(fmt.Sprintf("concat(customer_id, '|', bot_key, '|', channel_user_id, '|', CAST(%s AS %s))",
		d.epochMS("MIN(sent_at)"), d.str))
	return fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS
WITH %s,
numbered AS (
  SELECT *,
         COUNT(CASE WHEN %s THEN 1 END) OVER (
           PARTITION BY %s ORDER BY sent_at, message_key
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM ordered
),
ranked AS (
  SELECT *,
         ROW_NUMBER() OVER (
           PARTITION BY %s, session_no ORDER BY sent_at, message_key) AS pos,
         ROW_NUMBER() OVER (
           PARTITION BY %s, session_no, sender ORDER BY sent_at, message_key) AS sender_pos
  FROM numbered
)
SELECT
  %s AS session_id,
  customer_id,
  bot_key,
  channel_user_id,
  MAX(channel) AS channel,
  MIN(sent_at) AS started_at,
  MAX(sent_at) AS ended_at,
  CAST(%s - %s AS %s) / 1000 AS duration_s,
  COUNT(*) AS messages,
  COUNT(CASE WHEN sender = 'user' THEN 1 END) AS user_messages,
  COUNT(CASE WHEN sender = 'bot' THEN 1 END) AS bot_messages,
  COUNT(CASE WHEN sender = 'agent' THEN 1 END) AS agent_messages,
  COUNT(CASE WHEN sender = 'agent' OR message_type = 'AGENT_PARTICIPATION_STATUS' THEN 1 END) > 0 AS agent_joined,
  MAX(CASE WHEN sender = 'user' AND sender_pos = 1 THEN text END) AS first_user_text,
  MAX(CASE WHEN pos = 1 AND message_type = 'TEMPLATE' THEN template_name END) AS template_name,
  MAX(CASE WHEN pos = 1 AND message_type = 'TEMPLATE' THEN broadcast_id END) AS broadcast_id
FROM ranked
GROUP BY %s, session_no`,
		g.table(SessionsView),
		g.gapped("customer_id, bot_key, channel_user_id, channel, sender, message_type, text,\n         template_name, broadcast_id, sent_at, message_key"),
		g.startsSession(), userKey, userKey, userKey,
		id, d.epochMS("MAX(sent_at)"), d.epochMS("MIN(sent_at)"), d.double,
		userKey)
}

func (g *gen) broadcasts() string {
	d := g.d
	filter := ""
	if f := g.allDays("r"); f != "" {
		filter = "\n   AND " + f
	}
	replied := "COUNT(DISTINCT CASE WHEN r.message_key IS NOT NULL THEN s.channel_user_id END)"
	return fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS
WITH %s,
sends AS (
  SELECT customer_id, bot_key, channel_user_id, broadcast_id, template_name, sent_at, message_key,
         CASE WHEN %s THEN 1 ELSE 0 END AS opens_session
  FROM ordered
  WHERE message_type = 'TEMPLATE' AND broadcast_id IS NOT NULL
),
replied AS (
  SELECT DISTINCT s.message_key
  FROM sends s
  JOIN %s r
    ON r.customer_id = s.customer_id AND r.bot_key = s.bot_key
   AND r.channel_user_id = s.channel_user_id
   AND r.sender = 'user' AND r.sent_at > s.sent_at
   AND %s - %s <= %d%s
)
SELECT
  s.customer_id,
  s.bot_key,
  s.broadcast_id,
  s.template_name,
  COUNT(DISTINCT s.channel_user_id) AS users_reached,
  MIN(s.sent_at) AS first_sent_at,
  MAX(s.sent_at) AS last_sent_at,
  %s AS users_replied,
  CAST(%s AS %s) / COUNT(DISTINCT s.channel_user_id) AS reply_rate,
  COUNT(CASE WHEN s.opens_session = 1 THEN 1 END) AS sessions_opened
FROM sends s
LEFT JOIN replied r ON r.message_key = s.message_key
GROUP BY s.customer_id, s.bot_key, s.broadcast_id, s.template_name`,
		g.table(BroadcastsView),
		g.gapped("customer_id, bot_key, channel_user_id, message_type, template_name, broadcast_id,\n         sent_at, message_key"),
		g.startsSession(), g.source(schema.MessagesTable),
		d.epochMS("r.sent_at"), d.epochMS("s.sent_at"), g.o.ReplyWindow.Milliseconds(), filter,
		replied, replied, d.double)
}
