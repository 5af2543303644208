-- name: repeat_callers
-- description: Callers (by phone_key until identity resolution lands) with the most original calls, how widely they call and over how long.
-- param: from_month = 0000-01 | first month included, YYYY-MM
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: top = 50 | callers listed
-- param: min_calls = 3 | least original calls to be listed
WITH original AS (
    SELECT phone_key, category, district, counterparty, platform, received_at
    FROM calls
    WHERE source_call_id IS NULL
      AND phone_key IS NOT NULL
      AND month BETWEEN {{from_month}} AND {{to_month}}
),
-- Rank callers on plain counts first; distinct counts are then taken for the listed few only.
ranked AS (
    SELECT ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, phone_key) AS rank,
           phone_key,
           COUNT(*) AS calls,
           SUM(CASE WHEN platform = '110' THEN 1 ELSE 0 END) AS calls_110,
           MIN(received_at) AS first_call,
           MAX(received_at) AS last_call
    FROM original
    GROUP BY phone_key
    HAVING COUNT(*) >= CAST({{min_calls}} AS BIGINT)
),
listed AS (
    SELECT * FROM ranked WHERE rank <= CAST({{top}} AS BIGINT)
),
spread AS (
    SELECT o.phone_key,
           COUNT(DISTINCT o.category) AS categories,
           COUNT(DISTINCT o.district) AS districts,
           COUNT(DISTINCT o.counterparty) AS counterparties
    FROM original o
    JOIN listed l ON l.phone_key = o.phone_key
    GROUP BY o.phone_key
)
SELECT l.rank, l.phone_key, l.calls, l.calls_110, s.categories, s.districts, s.counterparties, l.first_call, l.last_call
FROM listed l
JOIN spread s ON s.phone_key = l.phone_key
ORDER BY l.rank
