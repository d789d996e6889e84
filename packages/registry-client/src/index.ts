export { type BearerToken, CATALOG_SCOPE, pullScope, pushScope } from './auth.js';
export { type AuthChallenge, parseChallenges } from './challenge.js';
export { type MirrorEndpoint, parseMirror, RegistryClient, type RegistryClientOptions } from './client.js';
export {
  type CredentialProvider,
  type Credentials,
  credentialKey,
  type DockerAuthEntry,
  type DockerConfigFile,
  type DockerConfigOptions,
  dockerConfigDir,
  dockerCredentials,
  getCredentials,
  readDockerConfig,
  removeCredentials,
  saveCredentials,
} from './credentials.js';
export {
  BlobUnknownError,
  BlobUploadUnknownError,
  type ConnectionFailure,
  CredentialsError,
  DeniedError,
  type DockerMessageContext,
  dockerErrorMessage,
  errcodeText,
  ManifestUnknownError,
  NameUnknownError,
  parseErrorBody,
  RegistryConnectionError,
  RegistryError,
  type RegistryErrorContext,
  type RegistryErrorEntry,
  type RegistryErrorOptions,
  RegistryProtocolError,
  RegistryUsageError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedError,
} from './errors.js';
export {
  DOCKER_HUB_AUTH_KEY,
  DOCKER_HUB_REGISTRY,
  isDockerHub,
  isLoopback,
  matchesInsecure,
  registryEndpoint,
} from './hosts.js';
export {
  createFetchTransport,
  createTransport,
  type HttpHeaders,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
  type TimeoutOptions,
  type TransportOptions,
} from './http.js';
export { type ListOptions, referrersTag } from './listing.js';
export { createNodeTransport, HttpTransportError } from './node-transport.js';
export {
  type BlobReadOptions,
  type FetchedManifest,
  type PingResult,
  Registry,
  type RegistryOptions,
  type RegistryRequest,
  type RetryOptions,
} from './registry.js';
export {
  type RegistryImageSink,
  type RegistryImageSource,
  type RegistryLocation,
  type RegistryTransportOptions,
  registryLocation,
  registrySink,
  registrySource,
} from './source.js';
export type { BlobUploadOptions, BlobUploadResult } from './upload.js';
