-- name: orphan_orders
-- description: Work orders whose call is not in the warehouse (not yet ingested, or quarantined): the contract reports them here instead of rejecting them.
-- param: from_month = 0000-01 | first month included, YYYY-MM
-- param: to_month = 9999-12 | last month included, YYYY-MM
SELECT o.order_id, o.call_id, o.created_at, o.from_platform, o.to_platform, o.department, o.status, o.batch_id
FROM work_orders o
LEFT JOIN calls c ON c.call_id = o.call_id
WHERE c.call_id IS NULL AND o.month BETWEEN {{from_month}} AND {{to_month}}
ORDER BY o.created_at, o.order_id
