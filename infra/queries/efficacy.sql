-- Rollback efficacy (seed 000): the same figures before and after the rollback instant (when the stage's
-- toggles were in force): coverage (percent), p95 latency (ms), fill rate (percent of requests that got
-- all k items) and error rate (percent of requests that failed), shadow traffic excluded. The window is
-- [since, rollback) for pre_rollback and [rollback, until) for post_rollback, by event time.
-- Athena (Trino) dialect; DuckDB runs it through sqlglot. Values are bound, never spliced; the seed's
-- '{rollback_time}' string formatting is exactly what this replaces.
-- A scope filter of '' means "any"; otherwise a comma-separated list of scope values.
-- parameters: rollback_ms, date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client, rollback_ms, date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client
WITH ranked AS (
  SELECT
    CASE WHEN timestamp_ms < ? THEN 'pre_rollback' ELSE 'post_rollback' END AS period,
    coverage,
    latency_ms,
    k,
    k_returned
  FROM ranking_events
  WHERE event_date BETWEEN ? AND ?
    AND timestamp_ms >= ? AND timestamp_ms < ?
    AND service = ? AND environment = ?
    AND (? = '' OR strpos(',' || ? || ',', ',' || region || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || cohort || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || client || ',') > 0)
    AND shadow = false
),
failed AS (
  SELECT
    CASE WHEN timestamp_ms < ? THEN 'pre_rollback' ELSE 'post_rollback' END AS period,
    count(*) AS errors
  FROM error_events
  WHERE event_date BETWEEN ? AND ?
    AND timestamp_ms >= ? AND timestamp_ms < ?
    AND service = ? AND environment = ?
    AND (? = '' OR strpos(',' || ? || ',', ',' || region || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || cohort || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || client || ',') > 0)
    AND shadow = false
  GROUP BY 1
)
SELECT
  ranked.period,
  count(*) AS requests,
  avg(ranked.coverage) AS avg_coverage,
  approx_percentile(ranked.latency_ms, 0.95) AS p95_latency_ms,
  sum(CASE WHEN ranked.k_returned >= ranked.k THEN 1 ELSE 0 END) * 100.0 / count(*) AS fill_rate,
  coalesce(max(failed.errors), 0) * 100.0 / count(*) AS error_rate
FROM ranked
LEFT JOIN failed ON failed.period = ranked.period
GROUP BY ranked.period
ORDER BY CASE ranked.period WHEN 'pre_rollback' THEN 0 ELSE 1 END
