-- chatlake ddl --engine spark --lake s3://acme-lake/chat --table-format iceberg
-- Tables from schema.Messages() (version 1) and schema.Users() (version 1);
-- sessions end after a gap longer than 30m0s; a reply comes within 24h0m0s of a template message.
-- The tables are Iceberg tables in the AWS Glue Data Catalog of account 123456789012, database chatlake.
-- Spark reads them through an Iceberg catalog named chatlake of type glue: chatlake.chatlake.messages and chatlake.chatlake.users.
-- Its configuration, for spark-defaults.conf or as --conf KEY=VALUE each, with the packages
-- org.apache.iceberg:iceberg-spark-runtime-<spark>_<scala> and org.apache.iceberg:iceberg-aws-bundle (and
-- iceberg-gcp-bundle for gs://); Glue's region and credentials come from the AWS configuration of the Spark
-- driver and executors (AWS_REGION, AWS_PROFILE, an instance role):
--   spark.sql.catalog.chatlake org.apache.iceberg.spark.SparkCatalog
--   spark.sql.catalog.chatlake.type glue
--   spark.sql.catalog.chatlake.glue.id 123456789012
--   spark.sql.catalog.chatlake.warehouse s3://acme-lake/chat
--   spark.sql.catalog.chatlake.io-impl org.apache.iceberg.aws.s3.S3FileIO
-- The views go in the session catalog (spark_catalog). Spark reads the timestamps as instants and shows them in
-- spark.sql.session.timeZone: SET spark.sql.session.timeZone = UTC; to see them in UTC.

CREATE DATABASE IF NOT EXISTS spark_catalog.chatlake;

CREATE OR REPLACE VIEW spark_catalog.chatlake.users_latest AS
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
  SELECT u.*, date_from_unix_date(CAST(floor(unix_millis(u.extracted_at) / 86400000) AS INT)) AS snapshot_date, ROW_NUMBER() OVER (
           PARTITION BY customer_id, bot_key, channel_user_id
           ORDER BY extracted_at DESC, run_id DESC) AS snapshot_rank
  FROM chatlake.chatlake.users u
) ranked
WHERE snapshot_rank = 1;

CREATE OR REPLACE VIEW spark_catalog.chatlake.sessions AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, channel, sender, message_type, text,
         template_name, broadcast_id, sent_at, message_key,
         unix_millis(sent_at) - LAG(unix_millis(sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM chatlake.chatlake.messages
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
  md5(concat(customer_id, '|', bot_key, '|', channel_user_id, '|', CAST(unix_millis(MIN(sent_at)) AS STRING))) AS session_id,
  customer_id,
  bot_key,
  channel_user_id,
  MAX(channel) AS channel,
  MIN(sent_at) AS started_at,
  MAX(sent_at) AS ended_at,
  CAST(unix_millis(MAX(sent_at)) - unix_millis(MIN(sent_at)) AS DOUBLE) / 1000 AS duration_s,
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

CREATE OR REPLACE VIEW spark_catalog.chatlake.broadcasts AS
WITH ordered AS (
  SELECT customer_id, bot_key, channel_user_id, message_type, template_name, broadcast_id,
         sent_at, message_key,
         unix_millis(sent_at) - LAG(unix_millis(sent_at)) OVER (
           PARTITION BY customer_id, bot_key, channel_user_id ORDER BY sent_at, message_key) AS gap_ms
  FROM chatlake.chatlake.messages
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
  JOIN chatlake.chatlake.messages r
    ON r.customer_id = s.customer_id AND r.bot_key = s.bot_key
   AND r.channel_user_id = s.channel_user_id
   AND r.sender = 'user' AND r.sent_at > s.sent_at
   AND unix_millis(r.sent_at) - unix_millis(s.sent_at) <= 86400000
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
