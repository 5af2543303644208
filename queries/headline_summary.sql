-- name: headline_summary
-- description: Every headline figure of the data contract over a month range, one row per figure, with numerator and denominator.
-- param: from_month = 0000-01 | first month included, YYYY-MM (Asia/Shanghai; calls by received_at, orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: from_day = 0001-01-01 | first day included, YYYY-MM-DD, within the months (for a week or a day)
-- param: to_day = 9999-12-31 | last day included, YYYY-MM-DD
WITH c AS (
    SELECT c.platform, c.category, c.disposition, c.source_call_id, cat.police_matter
    FROM calls c
    JOIN categories cat ON cat.code = c.category
    WHERE c.month BETWEEN {{from_month}} AND {{to_month}}
      AND c.received_at >= CAST(GREATEST(CAST({{from_day}} AS DATE), DATE '1900-01-01') AS TIMESTAMP) - INTERVAL '8 hours'
      AND c.received_at < CAST(LEAST(CAST({{to_day}} AS DATE), DATE '2199-12-31') AS TIMESTAMP) + INTERVAL '16 hours'
),
-- Each figure's counts in one pass over the calls and one over the orders.
call_counts AS (
    SELECT COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' THEN 1 END) AS valid_110,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter THEN 1 END) AS non_police,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter
                       AND disposition = 'TRANSFERRED' THEN 1 END) AS diverted,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter
                       AND disposition = 'ANSWERED' THEN 1 END) AS self_handled,
           COUNT(CASE WHEN source_call_id IS NULL THEN 1 END) AS original
    FROM c
),
o AS (
    SELECT * FROM work_orders WHERE month BETWEEN {{from_month}} AND {{to_month}}
      AND created_at >= CAST(GREATEST(CAST({{from_day}} AS DATE), DATE '1900-01-01') AS TIMESTAMP) - INTERVAL '8 hours'
      AND created_at < CAST(LEAST(CAST({{to_day}} AS DATE), DATE '2199-12-31') AS TIMESTAMP) + INTERVAL '16 hours'
),
order_counts AS (
    SELECT COUNT(*) AS orders,
           COUNT(CASE WHEN signed_at IS NOT NULL AND signed_at <= created_at + INTERVAL '180 seconds' THEN 1 END) AS signed_3min,
           COUNT(CASE WHEN feedback_at IS NOT NULL AND feedback_at <= created_at + INTERVAL '7200 seconds' THEN 1 END) AS feedback_2h,
           COUNT(satisfaction) AS rated,
           COUNT(CASE WHEN satisfaction IN ('SATISFIED', 'BASIC') THEN 1 END) AS satisfied,
           COUNT(CASE WHEN from_platform = '110' AND to_platform IS NOT NULL THEN 1 END) AS reflow_base,
           COUNT(CASE WHEN from_platform = '110' AND to_platform IS NOT NULL AND status = 'RETURNED' THEN 1 END) AS reflowed
    FROM o
),
-- A call repeats when the same caller's previous original call about the same category is at most 7
-- days older. caller_calls holds each original call's caller (the resolved person of caller_entities;
-- a call no resolve run has seen yet counts by its phone_key) and that caller's previous original
-- call of the same category (previous_at, from any month), kept in step by ingest and resolve.
repeats AS (
    SELECT COUNT(*) AS n
    FROM caller_calls
    WHERE previous_at >= received_at - INTERVAL '7 days' AND month BETWEEN {{from_month}} AND {{to_month}}
      AND received_at >= CAST(GREATEST(CAST({{from_day}} AS DATE), DATE '1900-01-01') AS TIMESTAMP) - INTERVAL '8 hours'
      AND received_at < CAST(LEAST(CAST({{to_day}} AS DATE), DATE '2199-12-31') AS TIMESTAMP) + INTERVAL '16 hours'
),
figures AS (
    SELECT f.ord, f.figure, f.name_zh,
           CASE f.ord WHEN 1 THEN c.non_police WHEN 2 THEN c.diverted WHEN 3 THEN c.self_handled
                      WHEN 4 THEN o.signed_3min WHEN 5 THEN o.feedback_2h WHEN 6 THEN o.satisfied
                      WHEN 7 THEN o.reflowed ELSE r.n END AS numerator,
           CASE f.ord WHEN 1 THEN c.valid_110 WHEN 2 THEN c.non_police WHEN 3 THEN c.non_police
                      WHEN 4 THEN o.orders WHEN 5 THEN o.orders WHEN 6 THEN o.rated
                      WHEN 7 THEN o.reflow_base ELSE c.original END AS denominator
    FROM (VALUES (1, 'non_police_share', '双非占比'), (2, 'diversion_rate', '分流率'),
                 (3, 'self_handling_rate', '自处率'), (4, 'signing_3min_rate', '3分钟签收率'),
                 (5, 'feedback_2h_rate', '2小时反馈率'), (6, 'satisfaction_rate', '满意率'),
                 (7, 'reflow_rate', '回流率'), (8, 'repeat_call_rate', '重复报警率')) AS f(ord, figure, name_zh)
    CROSS JOIN call_counts c
    CROSS JOIN order_counts o
    CROSS JOIN repeats r
)
SELECT figure, name_zh,
       CAST(COALESCE(numerator, 0) AS BIGINT) AS numerator,
       CAST(denominator AS BIGINT) AS denominator,
       CASE WHEN denominator = 0 THEN NULL
            ELSE ROUND(100.0 * CAST(COALESCE(numerator, 0) AS DOUBLE) / CAST(denominator AS DOUBLE), 1) END AS value_pct
FROM figures
ORDER BY ord
