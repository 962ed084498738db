/** The MinIO bucket Job's script, shipped in ConfigMap `minio-bucket` and run as is by tests. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const BUCKET_SCRIPT_FILE = 'minio-bucket.sh';
export function bucketScript(): string {
  return fs.readFileSync(path.join(__dirname, 'bucket.sh'), 'utf8');
}

/**
 * The API's MinIO policy: list the uploads bucket and read, write and delete its objects;
 * nothing else (no other bucket, no bucket settings, no admin API).
 */
export function appPolicy(bucket: string): { name: string; json: string } {
  const json = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        Resource: [`arn:aws:s3:::${bucket}`],
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  });
  // MinIO stores policies normalized, so the text cannot be compared in the script: the name
  // carries a hash of the content instead, and a changed policy is a new name.
  const hash = crypto.createHash('sha256').update(json).digest('hex').slice(0, 8);
  return { name: `nextgen-app-${hash}`, json };
}
