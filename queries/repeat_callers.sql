-- name: repeat_callers
-- description: Callers (resolved people of caller_entities; a call not resolved yet counts by its phone_key) with the most original calls: how many phones, categories, districts and counterparties, and over how long.
-- param: from_month = 0000-01 | first month included, YYYY-MM
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: from_day = 0001-01-01 | first day included, YYYY-MM-DD, within the months (for a week or a day)
-- param: to_day = 9999-12-31 | last day included, YYYY-MM-DD
-- param: top = 50 | callers listed
-- param: min_calls = 3 | least original calls to be listed
-- caller_calls holds every original call with its caller, kept in step by ingest and resolve.
WITH original AS (
    SELECT caller, phone_key, category, district, counterparty, platform, received_at
    FROM caller_calls
    WHERE caller IS NOT NULL
      AND month BETWEEN {{from_month}} AND {{to_month}}
      AND received_at >= CAST(GREATEST(CAST({{from_day}} AS DATE), DATE '1900-01-01') AS TIMESTAMP) - INTERVAL '8 hours'
      AND received_at < CAST(LEAST(CAST({{to_day}} AS DATE), DATE '2199-12-31') AS TIMESTAMP) + INTERVAL '16 hours'
),
-- Rank callers on plain counts first; distinct counts and the first and last call are then taken
-- for the listed few only, in one grouping of their calls.
ranked AS (
    SELECT CAST(ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, caller) AS BIGINT) AS rank,
           caller,
           COUNT(*) AS calls,
           COUNT(CASE WHEN platform = '110' THEN 1 END) AS calls_110
    FROM original
    GROUP BY caller
    HAVING COUNT(*) >= CAST({{min_calls}} AS BIGINT)
),
listed AS (
    SELECT * FROM ranked WHERE rank <= CAST({{top}} AS BIGINT)
),
spread AS (
    SELECT o.caller,
           COUNT(DISTINCT o.phone_key) AS phones,
           COUNT(DISTINCT o.category) AS categories,
           COUNT(DISTINCT o.district) AS districts,
           COUNT(DISTINCT o.counterparty) AS counterparties,
           MIN(o.received_at) AS first_call,
           MAX(o.received_at) AS last_call
    FROM original o
    JOIN listed l ON l.caller = o.caller
    GROUP BY o.caller
)
SELECT l.rank, l.caller, n.names_masked AS names, l.calls, l.calls_110, s.phones, s.categories, s.districts,
       s.counterparties, s.first_call, s.last_call
FROM listed l
JOIN spread s ON s.caller = l.caller
LEFT JOIN entities n ON n.entity_id = l.caller
ORDER BY l.rank
