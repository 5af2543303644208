-- name: department_sla
-- description: Department league table: 3-minute signing, 2-hour feedback and satisfaction per handling unit with their counts, best signing first, and the median minutes to sign.
-- param: from_month = 0000-01 | first month included, YYYY-MM (orders by created_at)
-- param: to_month = 9999-12 | last month included, YYYY-MM
-- param: min_orders = 20 | leave out departments with fewer orders than this
WITH by_department AS (
    SELECT COALESCE(department, '(none)') AS department,
           COUNT(*) AS orders,
           COUNT(CASE WHEN signed_at <= created_at + INTERVAL '180 seconds' THEN 1 END) AS signed_3min,
           COUNT(CASE WHEN feedback_at <= created_at + INTERVAL '7200 seconds' THEN 1 END) AS feedback_2h,
           COUNT(satisfaction) AS rated,
           COUNT(CASE WHEN satisfaction IN ('SATISFIED', 'BASIC') THEN 1 END) AS satisfied,
           COUNT(CASE WHEN status = 'RETURNED' THEN 1 END) AS returned,
           MEDIAN((date_part('epoch', signed_at) - date_part('epoch', created_at)) / 60.0) AS median_minutes_to_sign
    FROM work_orders
    WHERE month BETWEEN {{from_month}} AND {{to_month}}
    GROUP BY COALESCE(department, '(none)')
)
SELECT CAST(RANK() OVER (ORDER BY CAST(signed_3min AS DOUBLE) / CAST(orders AS DOUBLE) DESC,
                                  CAST(feedback_2h AS DOUBLE) / CAST(orders AS DOUBLE) DESC) AS BIGINT) AS rank,
       department,
       orders,
       signed_3min,
       ROUND(100.0 * CAST(signed_3min AS DOUBLE) / CAST(orders AS DOUBLE), 1) AS signing_3min_pct,
       feedback_2h,
       ROUND(100.0 * CAST(feedback_2h AS DOUBLE) / CAST(orders AS DOUBLE), 1) AS feedback_2h_pct,
       rated,
       satisfied,
       ROUND(100.0 * CAST(satisfied AS DOUBLE) / CAST(NULLIF(rated, 0) AS DOUBLE), 1) AS satisfaction_pct,
       returned,
       ROUND(CAST(median_minutes_to_sign AS DOUBLE), 2) AS median_minutes_to_sign
FROM by_department
WHERE orders >= CAST({{min_orders}} AS BIGINT)
ORDER BY rank, department
