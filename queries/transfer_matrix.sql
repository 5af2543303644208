-- name: transfer_matrix
-- description: Hand-offs between platforms: orders from each platform to each receiving platform, their share of the sender's orders, the channel used, and how many came back (退回/回流).
-- param: from_month = 0000-01 | first month included, YYYY-MM (orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
SELECT from_platform,
       COALESCE(to_platform, '(dispatched, no transfer)') AS to_platform,
       COUNT(*) AS orders,
       ROUND(100.0 * CAST(COUNT(*) AS DOUBLE) / CAST(SUM(COUNT(*)) OVER (PARTITION BY from_platform) AS DOUBLE), 1) AS share_of_from_pct,
       COUNT(CASE WHEN channel = 'ONE_KEY' THEN 1 END) AS one_key,
       COUNT(CASE WHEN channel = 'THREE_WAY' THEN 1 END) AS three_way,
       COUNT(CASE WHEN channel = 'ONLINE' THEN 1 END) AS online,
       COUNT(CASE WHEN status = 'RETURNED' THEN 1 END) AS returned,
       ROUND(100.0 * CAST(COUNT(CASE WHEN status = 'RETURNED' THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE), 1) AS returned_pct
FROM work_orders
WHERE month BETWEEN {{from_month}} AND {{to_month}}
GROUP BY from_platform, COALESCE(to_platform, '(dispatched, no transfer)')
ORDER BY from_platform, orders DESC, to_platform
