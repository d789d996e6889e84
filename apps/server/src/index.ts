export {
  type Access,
  type AccessPolicy,
  type AccessRule,
  type Action,
  AUTHENTICATED_FULL_ACCESS,
  formatScope,
  parseScopes,
} from './auth/access.js';
export {
  type Authenticator,
  type BasicAuthOptions,
  basicAuth,
  type Grant,
  type Htpasswd,
  htpasswdFile,
  noAuth,
  parseHtpasswd,
  type TokenAuthOptions,
  tokenAuth,
} from './auth/authenticator.js';
export { type JwtKey, signJwt, verifyJwt } from './auth/jwt.js';
export { loadConfig, parseAddr, parseConfig, type ServerConfig } from './config.js';
export { ConfigError, ERROR_STATUS, RegistryError, StorageError } from './errors.js';
export { collectGarbage, type GcOptions, type GcReport } from './gc.js';
export { Metrics } from './metrics.js';
export { isRepositoryName, isTag, MAX_MANIFEST_SIZE, MediaTypes } from './names.js';
export { type FetchHandler, type RunningServer, type ServeOptions, serve } from './node.js';
export { type ProxyOptions, PullThroughCache } from './proxy.js';
export {
  type AccessLogEntry,
  type CorsOptions,
  createRegistry,
  errorResponse,
  type Registry,
  type RegistryOptions,
  type Reply,
  rawHandler,
  toResponse,
} from './registry.js';
export {
  layout,
  type ReferrerDescriptor,
  RegistryStore,
  type RegistryStoreOptions,
  type StoredManifest,
  type UploadState,
} from './registry-store.js';
export { resolveServerConfig, type StartedServer, type StartServerOptions, startServer } from './standalone.js';
export type { FileInfo, FileWriter, StorageDriver } from './storage/driver.js';
export { FilesystemDriver } from './storage/filesystem.js';
export { MemoryDriver } from './storage/memory.js';
export { S3Driver, type S3DriverOptions } from './storage/s3.js';
