export {
  createRegistry,
  errorResponse,
  toResponse,
  rawHandler,
  type Reply,
  type Registry,
  type RegistryOptions,
  type AccessLogEntry,
  type CorsOptions,
} from './registry.js';
export { RegistryStore, layout, type StoredManifest, type UploadState, type ReferrerDescriptor, type RegistryStoreOptions } from './registry-store.js';
export { type StorageDriver, type FileInfo, type FileWriter } from './storage/driver.js';
export { MemoryDriver } from './storage/memory.js';
export { FilesystemDriver } from './storage/filesystem.js';
export { RegistryError, StorageError, ConfigError, ERROR_STATUS } from './errors.js';
export { MediaTypes, MAX_MANIFEST_SIZE, isRepositoryName, isTag } from './names.js';
export { type Access, type Action, type AccessRule, type AccessPolicy, AUTHENTICATED_FULL_ACCESS, parseScopes, formatScope } from './auth/access.js';
export {
  type Authenticator,
  type Grant,
  type BasicAuthOptions,
  type TokenAuthOptions,
  type Htpasswd,
  noAuth,
  basicAuth,
  tokenAuth,
  parseHtpasswd,
  htpasswdFile,
} from './auth/authenticator.js';
export { type JwtKey, signJwt, verifyJwt } from './auth/jwt.js';
export { type GcOptions, type GcReport, collectGarbage } from './gc.js';
export { PullThroughCache, type ProxyOptions } from './proxy.js';
export { Metrics } from './metrics.js';
export { serve, type ServeOptions, type RunningServer, type FetchHandler } from './node.js';
export { parseConfig, loadConfig, parseAddr, type ServerConfig } from './config.js';
export { S3Driver, type S3DriverOptions } from './storage/s3.js';
