-- Coverage guardrail (seed 000): average coverage (percent) and underfill rate (percent of requests that
-- got fewer than k items) over an event-time window, shadow traffic excluded.
-- Athena (Trino) dialect; DuckDB runs it through sqlglot. Values are bound, never spliced.
-- A scope filter of '' means "any"; otherwise a comma-separated list of scope values.
-- parameters: date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client
SELECT
  count(*) AS requests,
  avg(coverage) AS avg_coverage,
  sum(CASE WHEN k_returned < k THEN 1 ELSE 0 END) * 100.0 / nullif(count(*), 0) AS underfill_rate
FROM ranking_events
WHERE event_date BETWEEN ? AND ?
  AND timestamp_ms >= ? AND timestamp_ms < ?
  AND service = ? AND environment = ?
  AND (? = '' OR strpos(',' || ? || ',', ',' || region || ',') > 0)
  AND (? = '' OR strpos(',' || ? || ',', ',' || cohort || ',') > 0)
  AND (? = '' OR strpos(',' || ? || ',', ',' || client || ',') > 0)
  AND shadow = false
