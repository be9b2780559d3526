-- chatlake ddl --engine snowflake --lake gcs://acme-lake/chat --table-format iceberg
-- Tables from schema.Messages() (version 1) and schema.Users() (version 1);
-- sessions end after a gap longer than 30m0s; a reply comes within 24h0m0s of a template message.
-- Each table is a Snowflake Iceberg table over one metadata file of the Iceberg table. An administrator
-- creates, once, an external volume over the lake and a catalog integration for Iceberg files in object storage:
--   CREATE EXTERNAL VOLUME chatlake_lake STORAGE_LOCATIONS = ((NAME = 'lake' STORAGE_PROVIDER = 'GCS'
--     STORAGE_BASE_URL = 'gcs://acme-lake/chat/' ...)) ALLOW_WRITES = FALSE;
--   CREATE CATALOG INTEGRATION chatlake_iceberg_files CATALOG_SOURCE = OBJECT_STORE TABLE_FORMAT = ICEBERG ENABLED = TRUE;
-- Replace <NNNNN-UUID>.metadata.json with each table's current metadata file
-- (chatlake status --lake gs://acme-lake/chat shows it).
-- The table reads that snapshot until refreshed: after each export, run
--   ALTER ICEBERG TABLE chatlake.public.messages REFRESH 'messages/metadata/<the new current file>';
-- Timestamps are TIMESTAMP_LTZ(6), shown in the session's TIMEZONE: ALTER SESSION SET TIMEZONE = 'UTC'; to see UTC.

CREATE SCHEMA IF NOT EXISTS chatlake.public;

CREATE OR REPLACE ICEBERG TABLE chatlake.public.messages
  EXTERNAL_VOLUME = 'chatlake_lake'
  CATALOG = 'chatlake_iceberg_files'
  METADATA_FILE_PATH = 'messages/metadata/<NNNNN-UUID>.metadata.json';

CREATE OR REPLACE ICEBERG TABLE chatlake.public.users
  EXTERNAL_VOLUME = 'chatlake_lake'
  CATALOG = 'chatlake_iceberg_files'
  METADATA_FILE_PATH = 'users/metadata/<NNNNN-UUID>.metadata.json';

CREATE OR REPLACE VIEW chatlake.public.users_latest AS
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
  SELECT u.*, TO_DATE(CONVERT_TIMEZONE('UTC', u.extracted_at)) AS snapshot_date, ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id
           ORDER BY extracted_at DESC, run_id DESC) AS snapshot_rank
  FROM chatlake.public.users u
) ranked
WHERE snapshot_rank = 1;

CREATE OR REPLACE VIEW chatlake.public.sessions AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, channel, sender, message_type, text,
         template_name, broadcast_id, sent_at, message_key,
         DATE_PART(EPOCH_MILLISECOND, sent_at) - LAG(DATE_PART(EPOCH_MILLISECOND, sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM chatlake.public.messages
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
  MD5(concat(customer_id, '|', bot_key, '|', channel_user_id, '|', CAST(DATE_PART(EPOCH_MILLISECOND, MIN(sent_at)) AS VARCHAR))) AS session_id,
  customer_id,
  bot_key,
  channel_user_id,
  MAX(channel) AS channel,
  MIN(sent_at) AS started_at,
  MAX(sent_at) AS ended_at,
  CAST(DATE_PART(EPOCH_MILLISECOND, MAX(sent_at)) - DATE_PART(EPOCH_MILLISECOND, MIN(sent_at)) AS DOUBLE) / 1000 AS duration_s,
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

CREATE OR REPLACE VIEW chatlake.public.broadcasts AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, message_type, template_name, broadcast_id,
         sent_at, message_key,
         DATE_PART(EPOCH_MILLISECOND, sent_at) - LAG(DATE_PART(EPOCH_MILLISECOND, sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM chatlake.public.messages
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
  JOIN chatlake.public.messages r
    ON r.customer_id = s.customer_id AND r.bot_key = s.bot_key
   AND r.channel_user_id = s.channel_user_id
   AND r.sender = 'user' AND r.sent_at > s.sent_at
   AND DATE_PART(EPOCH_MILLISECOND, r.sent_at) - DATE_PART(EPOCH_MILLISECOND, s.sent_at) <= 86400000
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
