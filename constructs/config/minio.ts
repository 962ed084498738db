/** The MinIO bucket Job's script, shipped in ConfigMap `minio-bucket` and run as is by tests. */
import * as fs from 'fs';
import * as path from 'path';

export const BUCKET_SCRIPT_FILE = 'minio-bucket.sh';
export function bucketScript(): string {
  return fs.readFileSync(path.join(__dirname, BUCKET_SCRIPT_FILE), 'utf8');
}
