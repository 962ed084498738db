#!/bin/sh
# Idempotent bucket setup for MinIO, run by Job `minio-bucket` with the `mc` image.
#
# Makes sure BUCKET exists, has versioning on, and carries exactly our lifecycle rules:
#   - noncurrent (replaced or deleted) object versions expire after NONCURRENT_EXPIRY_DAYS;
#   - delete markers left with no versions behind them are removed;
# and that the API's own user APP_ACCESS_KEY exists with policy POLICY_NAME (POLICY_JSON:
# objects of BUCKET only), so the API never holds the root credentials.
# (Unfinished multipart uploads are aborted by the server itself, MINIO_API_STALE_UPLOADS_EXPIRY:
# MinIO's lifecycle API does not take AbortIncompleteMultipartUpload.)
#
# Each step reads the current state first and changes only what differs, printing
# "unchanged" or what it did; a second run changes nothing.
#
# Environment: MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY (Secret `minio-root`), BUCKET,
# NONCURRENT_EXPIRY_DAYS, APP_ACCESS_KEY, APP_SECRET_KEY (Secret `minio-app`), POLICY_NAME,
# POLICY_JSON, MC_CONFIG_DIR (writable), optionally MINIO_WAIT_SECONDS.
set -eu
: "${MINIO_URL:?}" "${MINIO_ACCESS_KEY:?}" "${MINIO_SECRET_KEY:?}" "${BUCKET:?}" "${NONCURRENT_EXPIRY_DAYS:?}"
: "${APP_ACCESS_KEY:?}" "${APP_SECRET_KEY:?}" "${POLICY_NAME:?}" "${POLICY_JSON:?}"

# The Job may start before MinIO is up (same sync): retry for MINIO_WAIT_SECONDS (default
# 300). `mc alias set` checks the server and the credentials; credentials go through stdin,
# never on a command line.
left=${MINIO_WAIT_SECONDS:-300}
until out=$(printf '%s\n%s\n' "$MINIO_ACCESS_KEY" "$MINIO_SECRET_KEY" | mc alias set target "$MINIO_URL" 2>&1) &&
  out=$(mc ready target 2>&1); do
  if [ "$left" -le 0 ]; then
    echo "MinIO at $MINIO_URL: not ready or credentials refused: $out" >&2
    exit 1
  fi
  sleep 5
  left=$((left - 5))
done

if mc stat "target/$BUCKET" >/dev/null 2>&1; then
  echo "bucket $BUCKET: unchanged"
else
  mc mb --ignore-existing "target/$BUCKET" >/dev/null
  echo "bucket $BUCKET: created"
fi

# Pure sh pattern matching: the mc image is minimal (no grep or jq).
case "$(mc version info "target/$BUCKET" --json)" in
  *'"versioning":{"status":"Enabled"'*) echo "versioning: unchanged" ;;
  *)
    mc version enable "target/$BUCKET" >/dev/null
    echo "versioning: enabled"
    ;;
esac

# Written the way `mc ilm rule export` prints it, so equal text means equal rules.
lifecycle='{"Rules":[{"ID":"expire-noncurrent-versions","NoncurrentVersionExpiration":{"NoncurrentDays":'"$NONCURRENT_EXPIRY_DAYS"'},"Status":"Enabled"},{"Expiration":{"ExpiredObjectDeleteMarker":true},"ID":"remove-expired-delete-markers","Status":"Enabled"}]}'
current=$(mc ilm rule export "target/$BUCKET" 2>/dev/null || true)
if [ "$current" = "$lifecycle" ]; then
  echo "lifecycle: unchanged"
else
  printf '%s\n' "$lifecycle" | mc ilm import "target/$BUCKET" >/dev/null
  echo "lifecycle: updated"
fi

# The API's user. Its policy's name carries a hash of the policy text, so "exists" means
# "current"; an older version attached to the user is detached.
if mc admin policy info target "$POLICY_NAME" >/dev/null 2>&1; then
  echo "policy $POLICY_NAME: unchanged"
else
  printf '%s\n' "$POLICY_JSON" >"$MC_CONFIG_DIR/app-policy.json"
  mc admin policy create target "$POLICY_NAME" "$MC_CONFIG_DIR/app-policy.json" >/dev/null
  echo "policy $POLICY_NAME: created"
fi
# Signing in with the app credentials proves the user exists with this secret and is enabled.
if printf '%s\n%s\n' "$APP_ACCESS_KEY" "$APP_SECRET_KEY" | mc alias set app "$MINIO_URL" >/dev/null 2>&1; then
  echo "app user: unchanged"
else
  printf '%s\n%s\n' "$APP_ACCESS_KEY" "$APP_SECRET_KEY" | mc admin user add target >/dev/null
  echo "app user: created or secret updated"
fi
attached=$(mc admin policy entities target --user "$APP_ACCESS_KEY" 2>/dev/null || true)
case "$attached" in
  *"$POLICY_NAME"*) echo "app user policy: unchanged" ;;
  *)
    mc admin policy attach target "$POLICY_NAME" --user "$APP_ACCESS_KEY" >/dev/null
    echo "app user policy: attached $POLICY_NAME"
    ;;
esac
for p in $attached; do
  case "$p" in
    nextgen-app-*)
      if [ "$p" != "$POLICY_NAME" ]; then
        mc admin policy detach target "$p" --user "$APP_ACCESS_KEY" >/dev/null
        echo "app user policy: detached $p"
      fi
      ;;
  esac
done
