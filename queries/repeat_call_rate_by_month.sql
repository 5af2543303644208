-- name: repeat_call_rate_by_month
-- description: Repeat-call rate (重复报警率) per month: original calls whose caller (phone_key) made another original call of the same category in the 7 days before.
-- param: from_month = 0000-01 | first month included, YYYY-MM (an earlier call before this month is not seen)
-- param: to_month = 9999-12 | last month included, YYYY-MM
WITH original AS (
    SELECT call_id, month, phone_key, category, received_at
    FROM calls
    WHERE source_call_id IS NULL AND month BETWEEN {{from_month}} AND {{to_month}}
),
-- The nearest earlier call of the same caller and category decides: no join over all earlier calls.
previous AS (
    SELECT call_id, phone_key, received_at,
           LAG(received_at) OVER (PARTITION BY phone_key, category ORDER BY received_at, call_id) AS previous_at
    FROM original
),
repeated AS (
    SELECT call_id
    FROM previous
    WHERE phone_key IS NOT NULL AND previous_at IS NOT NULL AND previous_at >= received_at - INTERVAL '7 days'
)
SELECT o.month,
       COUNT(*) AS original_calls,
       COUNT(r.call_id) AS repeat_calls,
       ROUND(100.0 * CAST(COUNT(r.call_id) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE), 1) AS repeat_call_pct
FROM original o
LEFT JOIN repeated r ON r.call_id = o.call_id
GROUP BY o.month
ORDER BY o.month
