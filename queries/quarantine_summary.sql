-- name: quarantine_summary
-- description: Quarantined rows by table, reason and column, with how many files and batches they came from.
SELECT table_name, reason, COALESCE(column_name, '(record)') AS column_name,
       COUNT(*) AS rows,
       COUNT(DISTINCT file) AS files,
       MIN(batch_id) AS first_batch,
       MAX(batch_id) AS last_batch
FROM quarantine
GROUP BY table_name, reason, COALESCE(column_name, '(record)')
ORDER BY rows DESC, table_name, reason, column_name
