/**
 * The shell scripts the backup, restore, WAL archive and standby pods run. They are real
 * files, read at synth time into ConfigMaps, so the integration tests execute exactly the
 * text that ships.
 */
import * as fs from 'fs';
import * as path from 'path';

export const BACKUP_SCRIPT = path.join(__dirname, 'backup.sh');
export const RESTORE_SCRIPT = path.join(__dirname, 'restore.sh');
/** `push_metrics`: sourced by the scripts that report to the Pushgateway (beside them in /scripts). */
export const PUSH_METRICS_SCRIPT = path.join(__dirname, 'push-metrics.sh');
/** pg_receivewal streaming and the S3 upload of closed segments. */
export const WAL_ARCHIVE_SCRIPT = path.join(__dirname, 'wal-archive.sh');
/** pg_basebackup, its upload and the archive's retention. */
export const BASE_BACKUP_SCRIPT = path.join(__dirname, 'base-backup.sh');
/** Point-in-time restore from S3 into a fresh data directory. */
export const PITR_SCRIPT = path.join(__dirname, 'pitr.sh');
/** The post-restore check: writable primary, migrations complete, rows present. */
export const VERIFY_SCRIPT = path.join(__dirname, 'verify.sh');
/** Timeline chains (sourced by the three scripts above). */
export const TIMELINES_SCRIPT = path.join(__dirname, 'timelines.sh');
/** restore_command and its S3 sidecar: archived WAL for a server in recovery. */
export const WAL_FETCH_SCRIPT = path.join(__dirname, 'wal-fetch.sh');
/** Standby bootstrap, promotion and rebuild of an old primary. */
export const STANDBY_SCRIPT = path.join(__dirname, 'standby.sh');

/** The text of a script, as it goes into a ConfigMap. */
export function scriptText(file: string): string {
  return fs.readFileSync(file, 'utf8');
}
