export { Registry, type RegistryOptions, type RetryOptions, type RegistryRequest, type PingResult, type FetchedManifest, type BlobReadOptions } from './registry.js';
export { RegistryClient, type RegistryClientOptions, type MirrorEndpoint, parseMirror } from './client.js';
export {
  registrySource,
  registrySink,
  registryLocation,
  type RegistryLocation,
  type RegistryTransportOptions,
  type RegistryImageSource,
  type RegistryImageSink,
} from './source.js';
export { type BlobUploadOptions, type BlobUploadResult } from './upload.js';
export { type ListOptions, referrersTag } from './listing.js';
export { type AuthChallenge, parseChallenges } from './challenge.js';
export { type BearerToken, pullScope, pushScope, CATALOG_SCOPE } from './auth.js';
export {
  type Credentials,
  type CredentialProvider,
  type DockerConfigOptions,
  type DockerConfigFile,
  type DockerAuthEntry,
  dockerConfigDir,
  readDockerConfig,
  credentialKey,
  getCredentials,
  dockerCredentials,
  saveCredentials,
  removeCredentials,
} from './credentials.js';
export {
  DOCKER_HUB_REGISTRY,
  DOCKER_HUB_AUTH_KEY,
  isDockerHub,
  registryEndpoint,
  isLoopback,
  matchesInsecure,
} from './hosts.js';
export { type TimeoutOptions, type HttpTransport, type HttpRequest, type HttpResponse, type HttpHeaders, type TransportOptions, createTransport, createFetchTransport } from './http.js';
export {
  RegistryError,
  type RegistryErrorEntry,
  type RegistryErrorContext,
  type RegistryErrorOptions,
  ManifestUnknownError,
  BlobUnknownError,
  NameUnknownError,
  UnauthorizedError,
  DeniedError,
  TooManyRequestsError,
  UnsupportedError,
  BlobUploadUnknownError,
  RegistryProtocolError,
  RegistryConnectionError,
  type ConnectionFailure,
  CredentialsError,
  RegistryUsageError,
  parseErrorBody,
  errcodeText,
  dockerErrorMessage,
  type DockerMessageContext,
} from './errors.js';
