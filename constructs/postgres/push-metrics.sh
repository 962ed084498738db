# Push metrics to a Prometheus Pushgateway, with bash alone. Sourced, not run:
#
#   source /scripts/push-metrics.sh
#   push_metrics <job> <<EOF
#   # TYPE nextgen_backup_last_success_timestamp_seconds gauge
#   nextgen_backup_last_success_timestamp_seconds 1764220800
#   EOF
#
# Reads the metrics (Prometheus text format) on stdin and POSTs them to
# $PUSHGATEWAY_URL/metrics/job/<job> (POST replaces only the metrics of the same names in that
# group, so several steps may push to one job). Without PUSHGATEWAY_URL it does nothing. It
# returns non-zero when the push fails, and never exits the caller: a backup that reached S3
# must not be reported as failed because monitoring was unreachable (the caller logs it; the
# backup-age alert then fires, which is the right signal).
#
# Why bash and not curl or python: amazon/aws-cli is amazonlinux:2 plus only `less` and
# `groff` (aws/aws-cli, docker/Dockerfile) and its python is bundled inside the CLI, so
# neither curl nor a usable python is promised there; the postgres image is Debian with
# different tools again. Both run our scripts with bash, whose /dev/tcp redirection is all an
# HTTP/1.0 request needs. Everything below is a bash builtin; test/integration/
# backup-metrics.test.ts runs it with an empty PATH to prove that. Plain HTTP only: the
# Pushgateway is in-cluster.
#
# Usage by other scripts (base backups, WAL archiving): source this file, then call
# `push_metrics <job>` with their own metric lines; see docs/alerts.md.

push_metrics() {
  local job="$1" url="${PUSHGATEWAY_URL:-}" body line hostport host port path status
  [[ -n "$url" ]] || return 0
  [[ "$job" =~ ^[A-Za-z0-9_.-]+$ ]] || { printf 'push_metrics: bad job name %q\n' "$job" >&2; return 2; }
  [[ "$url" =~ ^http://([^/]+)(/.*)?$ ]] || { printf 'push_metrics: PUSHGATEWAY_URL must be http://host:port (got %s)\n' "$url" >&2; return 2; }
  hostport="${BASH_REMATCH[1]}"
  path="${BASH_REMATCH[2]%/}/metrics/job/$job"
  host="${hostport%%:*}"
  port="${hostport##*:}"
  [[ "$port" != "$hostport" ]] || port=80
  body=""
  while IFS= read -r line || [[ -n "$line" ]]; do body+="$line"$'\n'; done
  # ${#body} counts characters; the C locale makes that bytes (metric text is ASCII anyway).
  local LC_ALL=C
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf 'POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n%s' \
      "$path" "$hostport" "${#body}" "$body" >&3
    IFS=' ' read -r -t 10 _ status _ <&3 || exit 1
    exec 3<&-
    [[ "$status" == 2?? ]] || { printf 'push_metrics: %s answered HTTP %s\n' "$url$path" "$status" >&2; exit 1; }
  )
}
