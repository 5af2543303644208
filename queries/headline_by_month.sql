-- name: headline_by_month
-- description: Every headline figure of the data contract per month (Asia/Shanghai), with the counts behind each rate.
-- param: from_month = 0000-01 | first month included, YYYY-MM (calls by received_at, orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
WITH calls_by_month AS (
    SELECT c.month,
           SUM(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' THEN 1 ELSE 0 END) AS valid_110,
           SUM(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter THEN 1 ELSE 0 END) AS non_police_110,
           SUM(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter
                     AND c.disposition = 'TRANSFERRED' THEN 1 ELSE 0 END) AS diverted,
           SUM(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter
                     AND c.disposition = 'ANSWERED' THEN 1 ELSE 0 END) AS self_handled
    FROM calls c
    JOIN categories k ON k.code = c.category
    WHERE c.month BETWEEN {{from_month}} AND {{to_month}}
    GROUP BY c.month
),
orders_by_month AS (
    SELECT month,
           COUNT(*) AS orders,
           SUM(CASE WHEN signed_at IS NOT NULL AND signed_at <= created_at + INTERVAL '180 seconds' THEN 1 ELSE 0 END) AS signed_3min,
           SUM(CASE WHEN feedback_at IS NOT NULL AND feedback_at <= created_at + INTERVAL '7200 seconds' THEN 1 ELSE 0 END) AS feedback_2h,
           SUM(CASE WHEN satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS rated,
           SUM(CASE WHEN satisfaction IN ('SATISFIED', 'BASIC') THEN 1 ELSE 0 END) AS satisfied,
           SUM(CASE WHEN from_platform = '110' AND to_platform IS NOT NULL THEN 1 ELSE 0 END) AS reflow_base,
           SUM(CASE WHEN from_platform = '110' AND to_platform IS NOT NULL AND status = 'RETURNED' THEN 1 ELSE 0 END) AS reflowed
    FROM work_orders
    WHERE month BETWEEN {{from_month}} AND {{to_month}}
    GROUP BY month
)
SELECT COALESCE(c.month, o.month) AS month,
       c.valid_110,
       c.non_police_110,
       ROUND(100.0 * CAST(c.non_police_110 AS DOUBLE) / CAST(NULLIF(c.valid_110, 0) AS DOUBLE), 1) AS non_police_share_pct,
       ROUND(100.0 * CAST(c.diverted AS DOUBLE) / CAST(NULLIF(c.non_police_110, 0) AS DOUBLE), 1) AS diversion_pct,
       ROUND(100.0 * CAST(c.self_handled AS DOUBLE) / CAST(NULLIF(c.non_police_110, 0) AS DOUBLE), 1) AS self_handling_pct,
       o.orders,
       ROUND(100.0 * CAST(o.signed_3min AS DOUBLE) / CAST(NULLIF(o.orders, 0) AS DOUBLE), 1) AS signing_3min_pct,
       ROUND(100.0 * CAST(o.feedback_2h AS DOUBLE) / CAST(NULLIF(o.orders, 0) AS DOUBLE), 1) AS feedback_2h_pct,
       o.rated,
       ROUND(100.0 * CAST(o.satisfied AS DOUBLE) / CAST(NULLIF(o.rated, 0) AS DOUBLE), 1) AS satisfaction_pct,
       o.reflow_base,
       ROUND(100.0 * CAST(o.reflowed AS DOUBLE) / CAST(NULLIF(o.reflow_base, 0) AS DOUBLE), 1) AS reflow_pct
FROM calls_by_month c
FULL OUTER JOIN orders_by_month o ON o.month = c.month
ORDER BY month
