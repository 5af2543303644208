-- name: repeat_call_rate_by_month
-- description: Repeat-call rate (重复报警率) per month: original calls whose caller (the resolved person of caller_entities; a call not resolved yet counts by its phone_key) made another original call of the same category in the 7 days before.
-- param: from_month = 0000-01 | first month included, YYYY-MM (calls in the month before still count as earlier calls)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: district = | count only calls in this district or county (the earlier call may be anywhere); empty: the whole city
WITH original AS (
    SELECT c.call_id, c.month, c.district, COALESCE(e.entity_id, c.phone_key) AS caller, c.category, c.received_at
    FROM calls c
    LEFT JOIN caller_entities e ON e.call_id = c.call_id
    WHERE c.source_call_id IS NULL
      AND c.month BETWEEN COALESCE(CASE WHEN SUBSTR({{from_month}}, 6, 2) = '01'
                                      THEN LPAD(CAST(TRY_CAST(SUBSTR({{from_month}}, 1, 4) AS INTEGER) - 1 AS VARCHAR), 4, '0') || '-12'
                                      ELSE SUBSTR({{from_month}}, 1, 5) || LPAD(CAST(TRY_CAST(SUBSTR({{from_month}}, 6, 2) AS INTEGER) - 1 AS VARCHAR), 2, '0')
                                 END, {{from_month}})
                    AND {{to_month}}
),
-- The nearest earlier call of the same caller and category decides: no join over all earlier calls.
previous AS (
    SELECT month, district, received_at,
           LAG(received_at) OVER (PARTITION BY caller, category ORDER BY received_at) AS previous_at
    FROM original
    WHERE caller IS NOT NULL
),
repeats AS (
    SELECT month, COUNT(*) AS repeat_calls
    FROM previous
    WHERE previous_at >= received_at - INTERVAL '7 days'
      AND month BETWEEN {{from_month}} AND {{to_month}}
      AND ({{district}} = '' OR district = {{district}})
    GROUP BY month
),
totals AS (
    SELECT month,
           COUNT(*) AS original_calls,
           COUNT(caller) AS with_caller
    FROM original
    WHERE month BETWEEN {{from_month}} AND {{to_month}}
      AND ({{district}} = '' OR district = {{district}})
    GROUP BY month
)
SELECT t.month,
       t.original_calls,
       t.with_caller,
       COALESCE(r.repeat_calls, 0) AS repeat_calls,
       ROUND(100.0 * CAST(COALESCE(r.repeat_calls, 0) AS DOUBLE) / CAST(t.original_calls AS DOUBLE), 1) AS repeat_call_pct
FROM totals t
LEFT JOIN repeats r ON r.month = t.month
ORDER BY t.month
