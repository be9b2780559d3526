-- chatlake ddl --engine duckdb --lake /data/chat-lake --table-format iceberg
-- Tables from schema.Messages() (version 1) and schema.Users() (version 1);
-- sessions end after a gap longer than 30m0s; a reply comes within 24h0m0s of a template message.
-- DuckDB reads the Iceberg tables with its iceberg extension (installed once, from the network),
-- from their metadata files; it does not read the catalog. The catalog writes no version-hint.text, so each
-- scan takes the table's newest metadata file (unsafe_enable_version_guessing: the name that sorts last
-- under metadata/). That is the catalog's current one unless a commit failed, or was killed, after writing its
-- metadata file: then the scan may read a snapshot the catalog never committed. To read exactly the current
-- snapshot, scan the table's current metadata file instead of its directory (chatlake status --lake file:///data/chat-lake shows it):
--   iceberg_scan('/data/chat-lake/messages/metadata/<NNNNN-UUID>.metadata.json')
-- The SET lasts for the session: run it again in each new session that reads the views.

INSTALL iceberg;
LOAD iceberg;
SET unsafe_enable_version_guessing = true;

CREATE OR REPLACE VIEW messages AS
SELECT
  customer_id,
  bot_key,
  channel_user_id,
  channel,
  user_id,
  sender,
  message_type,
  text,
  sent_at,
  source_timestamp,
  file_url,
  file_mime_type,
  file_upload_type,
  agent_id,
  options,
  template_name,
  template_language,
  broadcast_id,
  extra_json,
  message_key,
  run_id,
  extracted_at
FROM iceberg_scan('/data/chat-lake/messages', allow_moved_paths = true);

CREATE OR REPLACE VIEW users AS
SELECT
  customer_id,
  bot_key,
  channel_user_id,
  channel,
  created_at,
  source_created_at,
  attributes_json,
  selectors,
  extra_json,
  run_id,
  extracted_at
FROM iceberg_scan('/data/chat-lake/users', allow_moved_paths = true);

CREATE OR REPLACE VIEW users_latest AS
SELECT
  customer_id,
  bot_key,
  channel_user_id,
  channel,
  created_at,
  source_created_at,
  attributes_json,
  selectors,
  extra_json,
  run_id,
  extracted_at,
  snapshot_date
FROM (
  SELECT u.*, CAST(timezone('UTC', u.extracted_at) AS DATE) AS snapshot_date, ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id
           ORDER BY extracted_at DESC, run_id DESC) AS snapshot_rank
  FROM users u
) ranked
WHERE snapshot_rank = 1;

CREATE OR REPLACE VIEW sessions AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, channel, sender, message_type, text,
         template_name, broadcast_id, sent_at, message_key,
         epoch_ms(sent_at) - LAG(epoch_ms(sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM messages
),
numbered AS (
  SELECT *,
         COUNT(CASE WHEN gap_ms IS NULL OR gap_ms > 1800000 THEN 1 END) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM ordered
),
ranked AS (
  SELECT *,
         ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id, session_no ORDER BY sent_at, message_key) AS pos,
         ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id, session_no, sender ORDER BY sent_at, message_key) AS sender_pos
  FROM numbered
)
SELECT
  md5(concat(customer_id, '|', bot_key, '|', channel_user_id, '|', CAST(epoch_ms(MIN(sent_at)) AS VARCHAR))) AS session_id,
  customer_id,
  bot_key,
  channel_user_id,
  MAX(channel) AS channel,
  MIN(sent_at) AS started_at,
  MAX(sent_at) AS ended_at,
  CAST(epoch_ms(MAX(sent_at)) - epoch_ms(MIN(sent_at)) AS DOUBLE) / 1000 AS duration_s,
  COUNT(*) AS messages,
  COUNT(CASE WHEN sender = 'user' THEN 1 END) AS user_messages,
  COUNT(CASE WHEN sender = 'bot' THEN 1 END) AS bot_messages,
  COUNT(CASE WHEN sender = 'agent' THEN 1 END) AS agent_messages,
  COUNT(CASE WHEN sender = 'agent' OR message_type = 'AGENT_PARTICIPATION_STATUS' THEN 1 END) > 0 AS agent_joined,
  MAX(CASE WHEN sender = 'user' AND sender_pos = 1 THEN text END) AS first_user_text,
  MAX(CASE WHEN pos = 1 AND message_type = 'TEMPLATE' THEN template_name END) AS template_name,
  MAX(CASE WHEN pos = 1 AND message_type = 'TEMPLATE' THEN broadcast_id END) AS broadcast_id
FROM ranked
GROUP BY customer_id, bot_key, channel_user_id, session_no;

CREATE OR REPLACE VIEW broadcasts AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, message_type, template_name, broadcast_id,
         sent_at, message_key,
         epoch_ms(sent_at) - LAG(epoch_ms(sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM messages
),
sends AS (
  SELECT customer_id, bot_key, channel_user_id, broadcast_id, template_name, sent_at, message_key,
         CASE WHEN gap_ms IS NULL OR gap_ms > 1800000 THEN 1 ELSE 0 END AS opens_session
  FROM ordered
  WHERE message_type = 'TEMPLATE' AND broadcast_id IS NOT NULL
),
replied AS (
  SELECT DISTINCT s.message_key
  FROM sends s
  JOIN messages r
    ON r.customer_id = s.customer_id AND r.bot_key = s.bot_key
   AND r.channel_user_id = s.channel_user_id
   AND r.sender = 'user' AND r.sent_at > s.sent_at
   AND epoch_ms(r.sent_at) - epoch_ms(s.sent_at) <= 86400000
)
SELECT
  s.customer_id,
  s.bot_key,
  s.broadcast_id,
  s.template_name,
  COUNT(DISTINCT s.channel_user_id) AS users_reached,
  MIN(s.sent_at) AS first_sent_at,
  MAX(s.sent_at) AS last_sent_at,
  COUNT(DISTINCT CASE WHEN r.message_key IS NOT NULL THEN s.channel_user_id END) AS users_replied,
  CAST(COUNT(DISTINCT CASE WHEN r.message_key IS NOT NULL THEN s.channel_user_id END) AS DOUBLE) / COUNT(DISTINCT s.channel_user_id) AS reply_rate,
  COUNT(CASE WHEN s.opens_session = 1 THEN 1 END) AS sessions_opened
FROM sends s
LEFT JOIN replied r ON r.message_key = s.message_key
GROUP BY s.customer_id, s.bot_key, s.broadcast_id, s.template_name;
