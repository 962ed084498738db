/**
 * The shell scripts the backup and restore pods run. They are real files, read at synth time
 * into ConfigMaps, so the integration tests execute exactly the text that ships.
 */
import * as fs from 'fs';
import * as path from 'path';

export const BACKUP_SCRIPT = path.join(__dirname, 'backup.sh');
export const RESTORE_SCRIPT = path.join(__dirname, 'restore.sh');
/** `push_metrics`: sourced by the scripts that report to the Pushgateway (beside them in /scripts). */
export const PUSH_METRICS_SCRIPT = path.join(__dirname, 'push-metrics.sh');

/** The text of a script, as it goes into a ConfigMap. */
export function scriptText(file: string): string {
  return fs.readFileSync(file, 'utf8');
}
