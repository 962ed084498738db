/**
 * MinIO: the object store, its bucket Job and script, and the API's own MinIO user (the public face of constructs/minio/).
 */
export * from './minio';
export * from './config';
