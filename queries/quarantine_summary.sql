-- name: quarantine_summary
-- description: Quarantined rows by table, reason and column, with how many files and batches they came from, for the data owners to fix at the source.
-- param: from_batch = 00000000 | first ingest batch included (batch_id, 8 digits)
-- param: to_batch = 99999999 | last ingest batch included
SELECT table_name, reason, COALESCE(column_name, '(record)') AS column_name,
       COUNT(*) AS rows,
       COUNT(DISTINCT file) AS files,
       COUNT(DISTINCT batch_id) AS batches,
       MIN(batch_id) AS first_batch,
       MAX(batch_id) AS last_batch
FROM quarantine
WHERE batch_id BETWEEN {{from_batch}} AND {{to_batch}}
GROUP BY table_name, reason, COALESCE(column_name, '(record)')
ORDER BY rows DESC, table_name, reason, column_name
