/** FROM and COPY --from name images the store lacks: they are pulled for the build's platform, as docker does. */
import { copy, type Platform } from '@lade/manifest';
import { formatReference, normalizeReference } from '@lade/reference';
import { registrySource } from '@lade/registry-client';
import type { ImageStore } from '@lade/store';
import type { CliContext } from '../context.js';
import { dockerError, registryClient } from '../registry.js';

/** Pulls `name` (tag `latest` when it has none) for `platform` into `store`, quietly. */
export async function pullForBuild(
  ctx: CliContext,
  store: ImageStore,
  name: string,
  platform: Platform,
): Promise<void> {
  const full = formatReference(normalizeReference(name));
  const signal = ctx.io.signal ? { signal: ctx.io.signal } : {};
  const client = registryClient(ctx);
  try {
    const source = registrySource(full, { client });
    const resolved = await source.resolve(signal);
    const sink = store.sink(full, { repoDigest: resolved.digest });
    try {
      await copy(source, sink, { platform, ...signal });
    } finally {
      await sink.close?.();
    }
  } catch (error) {
    throw dockerError(error, 'pull', name);
  } finally {
    await client.close();
  }
}
