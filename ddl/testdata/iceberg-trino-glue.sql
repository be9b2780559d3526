-- chatlake ddl --engine trino --lake s3://acme-lake/chat --table-format iceberg
-- Tables from schema.Messages() (version 1) and schema.Users() (version 1);
-- sessions end after a gap longer than 30m0s; a reply comes within 24h0m0s of a template message.
-- The tables are Iceberg tables in the AWS Glue Data Catalog, database chatlake: lake.chatlake.messages and .users in
-- Trino, with etc/catalog/lake.properties:
--   connector.name=iceberg
--   iceberg.catalog.type=glue
--   hive.metastore.glue.region=<the AWS region of the Glue catalog>
--   hive.metastore.glue.default-warehouse-dir=s3://acme-lake/chat
--   fs.native-s3.enabled=true
-- Replace the region placeholder with the catalog's region (the export's AWS_REGION). Trino takes Glue's
-- credentials from its AWS configuration (an instance role, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
-- Timestamps are timestamp(6) with time zone. The views are kept in Glue too.

CREATE SCHEMA IF NOT EXISTS lake.chat;

CREATE OR REPLACE VIEW lake.chat.users_latest AS
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
  SELECT u.*, CAST(u.extracted_at AT TIME ZONE 'UTC' AS date) AS snapshot_date, ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id
           ORDER BY extracted_at DESC, run_id DESC) AS snapshot_rank
  FROM lake.chatlake.users u
) ranked
WHERE snapshot_rank = 1;

CREATE OR REPLACE VIEW lake.chat.sessions AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, channel, sender, message_type, text,
         template_name, broadcast_id, sent_at, message_key,
         date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at) - LAG(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM lake.chatlake.messages
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
  lower(to_hex(md5(to_utf8(concat(customer_id, '|', bot_key, '|', channel_user_id, '|', CAST(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', MIN(sent_at)) AS varchar)))))) AS session_id,
  customer_id,
  bot_key,
  channel_user_id,
  MAX(channel) AS channel,
  MIN(sent_at) AS started_at,
  MAX(sent_at) AS ended_at,
  CAST(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', MAX(sent_at)) - date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', MIN(sent_at)) AS double) / 1000 AS duration_s,
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

CREATE OR REPLACE VIEW lake.chat.broadcasts AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, message_type, template_name, broadcast_id,
         sent_at, message_key,
         date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at) - LAG(date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM lake.chatlake.messages
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
  JOIN lake.chatlake.messages r
    ON r.customer_id = s.customer_id AND r.bot_key = s.bot_key
   AND r.channel_user_id = s.channel_user_id
   AND r.sender = 'user' AND r.sent_at > s.sent_at
   AND date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', r.sent_at) - date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000 UTC', s.sent_at) <= 86400000
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
  CAST(COUNT(DISTINCT CASE WHEN r.message_key IS NOT NULL THEN s.channel_user_id END) AS double) / COUNT(DISTINCT s.channel_user_id) AS reply_rate,
  COUNT(CASE WHEN s.opens_session = 1 THEN 1 END) AS sessions_opened
FROM sends s
LEFT JOIN replied r ON r.message_key = s.message_key
GROUP BY s.customer_id, s.bot_key, s.broadcast_id, s.template_name;
