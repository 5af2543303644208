-- name: headline_summary
-- description: Every headline figure of the data contract over a month range, one row per figure, with numerator and denominator.
-- param: from_month = 0000-01 | first month included, YYYY-MM (Asia/Shanghai; calls by received_at, orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: from_day = 0001-01-01 | first day included, YYYY-MM-DD, within the months (for a week or a day)
-- param: to_day = 9999-12-31 | last day included, YYYY-MM-DD
WITH c AS (
    SELECT c.call_id, c.platform, c.category, c.disposition, c.source_call_id, cat.police_matter
    FROM calls c
    JOIN categories cat ON cat.code = c.category
    WHERE c.month BETWEEN {{from_month}} AND {{to_month}}
      AND CAST(c.received_at + INTERVAL '8 hours' AS DATE) BETWEEN CAST({{from_day}} AS DATE) AND CAST({{to_day}} AS DATE)
),
valid_110 AS (
    SELECT * FROM c WHERE platform = '110' AND category NOT LIKE 'INVALID.%'
),
o AS (
    SELECT * FROM work_orders WHERE month BETWEEN {{from_month}} AND {{to_month}}
      AND CAST(created_at + INTERVAL '8 hours' AS DATE) BETWEEN CAST({{from_day}} AS DATE) AND CAST({{to_day}} AS DATE)
),
original AS (
    SELECT call_id FROM c WHERE source_call_id IS NULL
),
-- A call repeats when the same caller's (the resolved person of caller_entities; a call no resolve
-- run has seen yet falls back to its phone_key) previous original call about the same category is at most
-- 7 days older: the previous one is the nearest, so LAG replaces a join over all earlier calls. The
-- window starts a month before from_month, so a call early in the range sees the calls before it.
previous AS (
    SELECT c.month, c.received_at,
           LAG(c.received_at) OVER (PARTITION BY COALESCE(e.entity_id, c.phone_key), c.category
                                    ORDER BY c.received_at) AS previous_at
    FROM calls c
    LEFT JOIN caller_entities e ON e.call_id = c.call_id
    WHERE c.source_call_id IS NULL AND COALESCE(e.entity_id, c.phone_key) IS NOT NULL
      AND c.month BETWEEN COALESCE(CASE WHEN SUBSTR({{from_month}}, 6, 2) = '01'
                                      THEN LPAD(CAST(TRY_CAST(SUBSTR({{from_month}}, 1, 4) AS INTEGER) - 1 AS VARCHAR), 4, '0') || '-12'
                                      ELSE SUBSTR({{from_month}}, 1, 5) || LPAD(CAST(TRY_CAST(SUBSTR({{from_month}}, 6, 2) AS INTEGER) - 1 AS VARCHAR), 2, '0')
                                 END, {{from_month}})
                    AND {{to_month}}
),
repeats AS (
    SELECT COUNT(*) AS n
    FROM previous
    WHERE previous_at >= received_at - INTERVAL '7 days' AND month BETWEEN {{from_month}} AND {{to_month}}
      AND CAST(received_at + INTERVAL '8 hours' AS DATE) BETWEEN CAST({{from_day}} AS DATE) AND CAST({{to_day}} AS DATE)
),
figures AS (
    SELECT 1 AS ord, 'non_police_share' AS figure, '双非占比' AS name_zh,
           SUM(CASE WHEN NOT police_matter THEN 1 ELSE 0 END) AS numerator, COUNT(*) AS denominator
    FROM valid_110
    UNION ALL
    SELECT 2, 'diversion_rate', '分流率',
           SUM(CASE WHEN disposition = 'TRANSFERRED' THEN 1 ELSE 0 END), COUNT(*)
    FROM valid_110 WHERE NOT police_matter
    UNION ALL
    SELECT 3, 'self_handling_rate', '自处率',
           SUM(CASE WHEN disposition = 'ANSWERED' THEN 1 ELSE 0 END), COUNT(*)
    FROM valid_110 WHERE NOT police_matter
    UNION ALL
    SELECT 4, 'signing_3min_rate', '3分钟签收率',
           SUM(CASE WHEN signed_at IS NOT NULL AND signed_at <= created_at + INTERVAL '180 seconds' THEN 1 ELSE 0 END),
           COUNT(*)
    FROM o
    UNION ALL
    SELECT 5, 'feedback_2h_rate', '2小时反馈率',
           SUM(CASE WHEN feedback_at IS NOT NULL AND feedback_at <= created_at + INTERVAL '7200 seconds' THEN 1 ELSE 0 END),
           COUNT(*)
    FROM o
    UNION ALL
    SELECT 6, 'satisfaction_rate', '满意率',
           SUM(CASE WHEN satisfaction IN ('SATISFIED', 'BASIC') THEN 1 ELSE 0 END), COUNT(*)
    FROM o WHERE satisfaction IS NOT NULL
    UNION ALL
    SELECT 7, 'reflow_rate', '回流率',
           SUM(CASE WHEN status = 'RETURNED' THEN 1 ELSE 0 END), COUNT(*)
    FROM o WHERE from_platform = '110' AND to_platform IS NOT NULL
    UNION ALL
    SELECT 8, 'repeat_call_rate', '重复报警率', (SELECT n FROM repeats), COUNT(*)
    FROM original
)
SELECT figure, name_zh,
       CAST(COALESCE(numerator, 0) AS BIGINT) AS numerator,
       CAST(denominator AS BIGINT) AS denominator,
       CASE WHEN denominator = 0 THEN NULL
            ELSE ROUND(100.0 * CAST(COALESCE(numerator, 0) AS DOUBLE) / CAST(denominator AS DOUBLE), 1) END AS value_pct
FROM figures
ORDER BY ord
