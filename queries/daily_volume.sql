-- name: daily_volume
-- description: Calls per Asia/Shanghai day by platform, with valid 110 calls, their non-police share and the non-police calls diverted that day.
-- param: from_month = 0000-01 | first month included, YYYY-MM
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: district = | a district or county to keep (empty: the whole city)
SELECT CAST(c.received_at + INTERVAL '8 hours' AS DATE) AS day,
       COUNT(*) AS calls,
       COUNT(CASE WHEN c.platform = '110' THEN 1 END) AS calls_110,
       COUNT(CASE WHEN c.platform = '12345' THEN 1 END) AS calls_12345,
       COUNT(c.source_call_id) AS transfer_records,
       COUNT(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' THEN 1 END) AS valid_110,
       COUNT(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter THEN 1 END) AS non_police_110,
       ROUND(100.0 * CAST(COUNT(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter THEN 1 END) AS DOUBLE)
             / CAST(NULLIF(COUNT(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' THEN 1 END), 0) AS DOUBLE), 1) AS non_police_share_pct,
       COUNT(CASE WHEN c.platform = '110' AND c.category NOT LIKE 'INVALID.%' AND NOT k.police_matter
                   AND c.disposition = 'TRANSFERRED' THEN 1 END) AS diverted
FROM calls c
JOIN categories k ON k.code = c.category
WHERE c.month BETWEEN {{from_month}} AND {{to_month}}
  AND ({{district}} = '' OR c.district = {{district}})
GROUP BY CAST(c.received_at + INTERVAL '8 hours' AS DATE)
ORDER BY day
