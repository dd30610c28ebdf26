-- Latency guardrail (seed 000): p95 latency (ms) by exposure bucket and cohort over an event-time window,
-- shadow traffic excluded.
-- Athena (Trino) dialect; DuckDB runs it through sqlglot. Values are bound, never spliced.
-- A scope filter of '' means "any"; otherwise a comma-separated list of scope values.
-- parameters: date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client
SELECT
  bucket,
  cohort,
  count(*) AS requests,
  approx_percentile(latency_ms, 0.95) AS p95_latency_ms
FROM ranking_events
WHERE event_date BETWEEN ? AND ?
  AND timestamp_ms >= ? AND timestamp_ms < ?
  AND service = ? AND environment = ?
  AND (? = '' OR strpos(',' || ? || ',', ',' || region || ',') > 0)
  AND (? = '' OR strpos(',' || ? || ',', ',' || cohort || ',') > 0)
  AND (? = '' OR strpos(',' || ? || ',', ',' || client || ',') > 0)
  AND shadow = false
GROUP BY bucket, cohort
ORDER BY bucket, cohort
