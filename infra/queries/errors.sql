-- Error guardrail (seed 000): errors per 1 000 requests by component and severity over an event-time
-- window, shadow traffic excluded. The denominator is every (non-shadow) request of the window, from the
-- ranking events, so the rate is per request served, not per failed request.
-- Athena (Trino) dialect; DuckDB runs it through sqlglot. Values are bound, never spliced.
-- A scope filter of '' means "any"; otherwise a comma-separated list of scope values.
-- parameters: date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client, date_from, date_to, since_ms, until_ms, service, environment, region, region, cohort, cohort, client, client
WITH served AS (
  SELECT count(*) AS requests
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
  SELECT component, severity, count(*) AS errors
  FROM error_events
  WHERE event_date BETWEEN ? AND ?
    AND timestamp_ms >= ? AND timestamp_ms < ?
    AND service = ? AND environment = ?
    AND (? = '' OR strpos(',' || ? || ',', ',' || region || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || cohort || ',') > 0)
    AND (? = '' OR strpos(',' || ? || ',', ',' || client || ',') > 0)
    AND shadow = false
  GROUP BY component, severity
)
SELECT
  failed.component,
  failed.severity,
  failed.errors,
  served.requests,
  failed.errors * 1000.0 / nullif(served.requests, 0) AS errors_per_1k
FROM failed
CROSS JOIN served
ORDER BY errors_per_1k DESC, failed.component, failed.severity
