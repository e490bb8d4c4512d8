-- For bench/load_bench.py: at the end of a wrk run, print one line "WRK_JSON {...}" with the
-- percentiles (microseconds, including p95, which wrk's --latency does not show), the counts and
-- every kind of error. summary.errors.status counts responses with a status of 400 or more.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "status": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
