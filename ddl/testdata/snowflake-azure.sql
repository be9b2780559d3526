-- chatlake ddl --engine snowflake --lake azure://acmelake.blob.core.windows.net/chat-lake/chat
-- Tables from schema.Messages() (version 1) and schema.Users() (version 1);
-- sessions end after a gap longer than 30m0s; a reply comes within 24h0m0s of a template message.
-- The stage uses the storage integration chatlake_lake, which an administrator creates once,
-- allowed to read azure://acmelake.blob.core.windows.net/chat-lake/chat/, and grants (GRANT USAGE ON INTEGRATION chatlake_lake TO ROLE ...):
--   CREATE STORAGE INTEGRATION chatlake_lake TYPE = EXTERNAL_STAGE ENABLED = TRUE
--     STORAGE_PROVIDER = 'AZURE' ... STORAGE_ALLOWED_LOCATIONS = ('azure://acmelake.blob.core.windows.net/chat-lake/chat/');
-- Timestamps are TIMESTAMP_LTZ, shown in the session's TIMEZONE: ALTER SESSION SET TIMEZONE = 'UTC'; to see UTC.

CREATE SCHEMA IF NOT EXISTS chatlake.public;

CREATE STAGE IF NOT EXISTS chatlake.public.chatlake_lake
  URL = 'azure://acmelake.blob.core.windows.net/chat-lake/chat/'
  STORAGE_INTEGRATION = chatlake_lake;

CREATE OR REPLACE EXTERNAL TABLE chatlake.public.messages (
  customer_id VARCHAR AS (VALUE:customer_id::VARCHAR),
  bot_key VARCHAR AS (VALUE:bot_key::VARCHAR),
  channel_user_id VARCHAR AS (VALUE:channel_user_id::VARCHAR),
  channel VARCHAR AS (VALUE:channel::VARCHAR),
  user_id VARCHAR AS (VALUE:user_id::VARCHAR),
  sender VARCHAR AS (VALUE:sender::VARCHAR),
  message_type VARCHAR AS (VALUE:message_type::VARCHAR),
  text VARCHAR AS (VALUE:text::VARCHAR),
  sent_at TIMESTAMP_LTZ AS (VALUE:sent_at::TIMESTAMP_LTZ),
  source_timestamp VARCHAR AS (VALUE:source_timestamp::VARCHAR),
  file_url VARCHAR AS (VALUE:file_url::VARCHAR),
  file_mime_type VARCHAR AS (VALUE:file_mime_type::VARCHAR),
  file_upload_type VARCHAR AS (VALUE:file_upload_type::VARCHAR),
  agent_id VARCHAR AS (VALUE:agent_id::VARCHAR),
  options ARRAY AS (VALUE:options::ARRAY),
  template_name VARCHAR AS (VALUE:template_name::VARCHAR),
  template_language VARCHAR AS (VALUE:template_language::VARCHAR),
  broadcast_id VARCHAR AS (VALUE:broadcast_id::VARCHAR),
  extra_json VARCHAR AS (VALUE:extra_json::VARCHAR),
  message_key VARCHAR AS (VALUE:message_key::VARCHAR),
  run_id VARCHAR AS (VALUE:run_id::VARCHAR),
  extracted_at TIMESTAMP_LTZ AS (VALUE:extracted_at::TIMESTAMP_LTZ),
  dt DATE AS (TO_DATE(SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '/dt=', 2), '/', 1)))
)
PARTITION BY (dt)
LOCATION = @chatlake.public.chatlake_lake/messages/
REFRESH_ON_CREATE = TRUE
AUTO_REFRESH = FALSE
PATTERN = '.*/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]+[.]parquet'
FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE);

-- Registers the files written since (new days, replaced files); run it after every export.
ALTER EXTERNAL TABLE chatlake.public.messages REFRESH;

CREATE OR REPLACE EXTERNAL TABLE chatlake.public.users (
  customer_id VARCHAR AS (VALUE:customer_id::VARCHAR),
  bot_key VARCHAR AS (VALUE:bot_key::VARCHAR),
  channel_user_id VARCHAR AS (VALUE:channel_user_id::VARCHAR),
  channel VARCHAR AS (VALUE:channel::VARCHAR),
  created_at TIMESTAMP_LTZ AS (VALUE:created_at::TIMESTAMP_LTZ),
  source_created_at VARCHAR AS (VALUE:source_created_at::VARCHAR),
  attributes_json VARCHAR AS (VALUE:attributes_json::VARCHAR),
  selectors ARRAY AS (VALUE:selectors::ARRAY),
  extra_json VARCHAR AS (VALUE:extra_json::VARCHAR),
  run_id VARCHAR AS (VALUE:run_id::VARCHAR),
  extracted_at TIMESTAMP_LTZ AS (VALUE:extracted_at::TIMESTAMP_LTZ),
  snapshot_date DATE AS (TO_DATE(SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '/snapshot_date=', 2), '/', 1)))
)
PARTITION BY (snapshot_date)
LOCATION = @chatlake.public.chatlake_lake/users/
REFRESH_ON_CREATE = TRUE
AUTO_REFRESH = FALSE
PATTERN = '.*/snapshot_date=[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]+[.]parquet'
FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE);

-- Registers the files written since (new days, replaced files); run it after every export.
ALTER EXTERNAL TABLE chatlake.public.users REFRESH;

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
  SELECT u.*, ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id
           ORDER BY snapshot_date DESC, extracted_at DESC, run_id DESC) AS snapshot_rank
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
