-- wrk script for scripts/bench-http.sh: the requests carry the headers given with -H (the bearer token);
-- at the end one machine-readable line: requests/s, latency p50/p99 in ms, requests, non-2xx/3xx answers and
-- socket errors, which the shell script reads and prints beside the /health reference.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, errors))
end
