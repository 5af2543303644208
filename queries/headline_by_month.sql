-- name: headline_by_month
-- description: Every headline figure of the data contract per month (Asia/Shanghai), each rate with its numerator and denominator; the whole city or one district.
-- param: from_month = 0000-01 | first month included, YYYY-MM (calls by received_at, orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: district = | one district or county (orders by their call's district); empty: the whole city
WITH c AS (
    SELECT c.call_id, c.month, c.district, c.platform, c.category, c.disposition, c.source_call_id, k.police_matter
    FROM calls c
    JOIN categories k ON k.code = c.category
    WHERE c.month BETWEEN {{from_month}} AND {{to_month}}
),
calls_by_month AS (
    SELECT month,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' THEN 1 END) AS valid_110,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter THEN 1 END) AS non_police_110,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter
                       AND disposition = 'TRANSFERRED' THEN 1 END) AS diverted,
           COUNT(CASE WHEN platform = '110' AND category NOT LIKE 'INVALID.%' AND NOT police_matter
                       AND disposition = 'ANSWERED' THEN 1 END) AS self_handled,
           COUNT(CASE WHEN source_call_id IS NULL THEN 1 END) AS original_calls
    FROM c
    WHERE ({{district}} = '' OR district = {{district}})
    GROUP BY month
),
-- 重复报警: an original call whose caller (resolved person) made an original call of the same category at
-- most 7 days before, in any district. caller_calls holds each original call's caller (the resolved
-- person of caller_entities; a call no resolve run has seen yet counts by its phone_key) and that
-- caller's previous original call of the same category (previous_at), kept in step by ingest and resolve.
repeats_by_month AS (
    SELECT month, COUNT(*) AS repeat_calls
    FROM caller_calls
    WHERE previous_at >= received_at - INTERVAL '7 days'
      AND month BETWEEN {{from_month}} AND {{to_month}}
      AND ({{district}} = '' OR district = {{district}})
    GROUP BY month
),
orders_by_month AS (
    SELECT o.month,
           COUNT(*) AS orders,
           COUNT(CASE WHEN o.signed_at <= o.created_at + INTERVAL '180 seconds' THEN 1 END) AS signed_3min,
           COUNT(CASE WHEN o.feedback_at <= o.created_at + INTERVAL '7200 seconds' THEN 1 END) AS feedback_2h,
           COUNT(o.satisfaction) AS rated,
           COUNT(CASE WHEN o.satisfaction IN ('SATISFIED', 'BASIC') THEN 1 END) AS satisfied,
           COUNT(CASE WHEN o.from_platform = '110' AND o.to_platform IS NOT NULL THEN 1 END) AS reflow_base,
           COUNT(CASE WHEN o.from_platform = '110' AND o.to_platform IS NOT NULL AND o.status = 'RETURNED' THEN 1 END) AS reflowed
    FROM work_orders o
    WHERE o.month BETWEEN {{from_month}} AND {{to_month}}
      AND ({{district}} = '' OR o.call_id IN (SELECT call_id FROM calls WHERE district = {{district}}))
    GROUP BY o.month
),
months AS (
    SELECT month FROM calls_by_month
    UNION
    SELECT month FROM orders_by_month
)
SELECT m.month,
       COALESCE(c.valid_110, 0) AS valid_110,
       COALESCE(c.non_police_110, 0) AS non_police_110,
       ROUND(100.0 * CAST(c.non_police_110 AS DOUBLE) / CAST(NULLIF(c.valid_110, 0) AS DOUBLE), 1) AS non_police_share_pct,
       COALESCE(c.diverted, 0) AS diverted,
       ROUND(100.0 * CAST(c.diverted AS DOUBLE) / CAST(NULLIF(c.non_police_110, 0) AS DOUBLE), 1) AS diversion_pct,
       COALESCE(c.self_handled, 0) AS self_handled,
       ROUND(100.0 * CAST(c.self_handled AS DOUBLE) / CAST(NULLIF(c.non_police_110, 0) AS DOUBLE), 1) AS self_handling_pct,
       COALESCE(o.orders, 0) AS orders,
       COALESCE(o.signed_3min, 0) AS signed_3min,
       ROUND(100.0 * CAST(o.signed_3min AS DOUBLE) / CAST(NULLIF(o.orders, 0) AS DOUBLE), 1) AS signing_3min_pct,
       COALESCE(o.feedback_2h, 0) AS feedback_2h,
       ROUND(100.0 * CAST(o.feedback_2h AS DOUBLE) / CAST(NULLIF(o.orders, 0) AS DOUBLE), 1) AS feedback_2h_pct,
       COALESCE(o.rated, 0) AS rated,
       COALESCE(o.satisfied, 0) AS satisfied,
       ROUND(100.0 * CAST(o.satisfied AS DOUBLE) / CAST(NULLIF(o.rated, 0) AS DOUBLE), 1) AS satisfaction_pct,
       COALESCE(o.reflow_base, 0) AS reflow_base,
       COALESCE(o.reflowed, 0) AS reflowed,
       ROUND(100.0 * CAST(o.reflowed AS DOUBLE) / CAST(NULLIF(o.reflow_base, 0) AS DOUBLE), 1) AS reflow_pct,
       COALESCE(c.original_calls, 0) AS original_calls,
       COALESCE(r.repeat_calls, 0) AS repeat_calls,
       ROUND(100.0 * CAST(COALESCE(r.repeat_calls, 0) AS DOUBLE) / CAST(NULLIF(c.original_calls, 0) AS DOUBLE), 1) AS repeat_call_pct
FROM months m
LEFT JOIN calls_by_month c ON c.month = m.month
LEFT JOIN repeats_by_month r ON r.month = m.month
LEFT JOIN orders_by_month o ON o.month = m.month
ORDER BY m.month
