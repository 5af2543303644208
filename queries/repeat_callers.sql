-- name: repeat_callers
-- description: Callers (by phone_key until identity resolution lands) with the most original calls, how widely they call and over how long.
-- param: from_month = 0000-01 | first month included, YYYY-MM
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: top = 50 | callers listed
-- param: min_calls = 3 | least original calls to be listed
WITH callers AS (
    SELECT phone_key,
           COUNT(*) AS calls,
           COUNT(DISTINCT category) AS categories,
           COUNT(DISTINCT district) AS districts,
           COUNT(DISTINCT counterparty) AS counterparties,
           SUM(CASE WHEN platform = '110' THEN 1 ELSE 0 END) AS calls_110,
           MIN(received_at) AS first_call,
           MAX(received_at) AS last_call
    FROM calls
    WHERE source_call_id IS NULL
      AND phone_key IS NOT NULL
      AND month BETWEEN {{from_month}} AND {{to_month}}
    GROUP BY phone_key
    HAVING COUNT(*) >= CAST({{min_calls}} AS BIGINT)
),
ranked AS (
    SELECT ROW_NUMBER() OVER (ORDER BY calls DESC, phone_key) AS rank, callers.*
    FROM callers
)
SELECT rank, phone_key, calls, calls_110, categories, districts, counterparties, first_call, last_call
FROM ranked
WHERE rank <= CAST({{top}} AS BIGINT)
ORDER BY rank
