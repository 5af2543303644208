-- name: repeat_call_rate_by_month
-- description: Repeat-call rate (重复报警率) per month: original calls whose caller (the resolved person of caller_entities; a call not resolved yet counts by its phone_key) made another original call of the same category in the 7 days before.
-- param: from_month = 0000-01 | first month included, YYYY-MM (calls before it still count as earlier calls)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: district = | count only calls in this district or county (the earlier call may be anywhere); empty: the whole city
-- caller_calls holds every original call with its caller (the resolved person of caller_entities; a
-- call no resolve run has seen yet counts by its phone_key) and that caller's previous original call
-- of the same category (previous_at, from any month), kept in step by ingest and resolve.
SELECT month,
       COUNT(*) AS original_calls,
       COUNT(caller) AS with_caller,
       COUNT(CASE WHEN previous_at >= received_at - INTERVAL '7 days' THEN 1 END) AS repeat_calls,
       ROUND(100.0 * CAST(COUNT(CASE WHEN previous_at >= received_at - INTERVAL '7 days' THEN 1 END) AS DOUBLE)
             / CAST(COUNT(*) AS DOUBLE), 1) AS repeat_call_pct
FROM caller_calls
WHERE month BETWEEN {{from_month}} AND {{to_month}}
  AND ({{district}} = '' OR district = {{district}})
GROUP BY month
ORDER BY month
