-- name: category_mix
-- description: Original calls per category over a range of days (Asia/Shanghai), with each category's share of them.
-- param: from_day = 0001-01-01 | first day included, YYYY-MM-DD
-- param: to_day = 9999-12-31 | last day included, YYYY-MM-DD
-- param: district = | a district or county to keep (empty: the whole city)
WITH counted AS (
    SELECT c.category, COUNT(*) AS calls
    FROM calls c
    WHERE c.source_call_id IS NULL
      AND c.received_at >= CAST(GREATEST(CAST({{from_day}} AS DATE), DATE '1900-01-01') AS TIMESTAMP) - INTERVAL '8 hours'
      AND c.received_at < CAST(LEAST(CAST({{to_day}} AS DATE), DATE '2199-12-31') AS TIMESTAMP) + INTERVAL '16 hours'
      AND ({{district}} = '' OR c.district = {{district}})
    GROUP BY c.category
)
SELECT k.code AS category, k.name_zh, k.police_matter, c.calls,
       ROUND(100.0 * CAST(c.calls AS DOUBLE) / CAST(SUM(c.calls) OVER () AS DOUBLE), 1) AS share_pct
FROM counted c
JOIN categories k ON k.code = c.category
ORDER BY c.calls DESC, k.code
