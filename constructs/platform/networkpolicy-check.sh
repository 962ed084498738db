#!/usr/bin/env bash
# Does this cluster's CNI enforce NetworkPolicy? Run from a pod that no policy of ours allows
# anything but DNS (default-deny + allow-dns): it must resolve names and reach the cluster DNS
# over TCP (the control: its network works), and it must NOT reach the database (the probe).
# Exit 0: enforced. Exit 1: NOT enforced (every policy in dist/ is decoration on this cluster).
# Exit 2: inconclusive (the control failed: fix DNS first, then run again).
# Needs bash, getent and pg_isready (the postgres image has them). Shipped in the
# networkpolicy-check Job (dist/<env>/runbooks/); generated from constructs/platform/networkpolicy-check.sh.
set -u
: "${TARGET_HOST:?}" "${TARGET_PORT:?}" "${CONTROL_HOST:?}" "${CONTROL_PORT:?}"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-5}"

if ! getent hosts "$TARGET_HOST" >/dev/null; then
  echo "INCONCLUSIVE: cannot resolve $TARGET_HOST: DNS does not work from this pod, so a refused connection would prove nothing"
  exit 2
fi
if ! timeout "$TIMEOUT_SECONDS" bash -c "exec 3<>/dev/tcp/$CONTROL_HOST/$CONTROL_PORT" 2>/dev/null; then
  echo "INCONCLUSIVE: the allowed path to $CONTROL_HOST:$CONTROL_PORT (cluster DNS over TCP) is closed too: this pod has no working network"
  exit 2
fi
pg_isready -h "$TARGET_HOST" -p "$TARGET_PORT" -t "$TIMEOUT_SECONDS" >/dev/null 2>&1
rc=$?
# pg_isready: 0 accepting, 1 rejecting (both mean the server answered), 2 no response.
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
  echo "FAIL: NetworkPolicy is NOT enforced: a pod no policy allows reached $TARGET_HOST:$TARGET_PORT (pg_isready exit $rc). Install a CNI that enforces NetworkPolicy (Calico, Cilium, ...; Flannel alone does not)."
  exit 1
fi
echo "OK: NetworkPolicy is enforced: $TARGET_HOST:$TARGET_PORT did not answer a pod no policy allows (pg_isready exit $rc), while DNS at $CONTROL_HOST:$CONTROL_PORT did"
exit 0
