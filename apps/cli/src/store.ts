import { familiarString, normalizeReference } from '@lade/reference';
import { ImageStore } from '@lade/store';
import type { CliContext } from './context.js';
import { CommandError } from './errors.js';

/** Opens the local image store at `--root` / `$LADE_HOME`. */
export function openStore(ctx: CliContext): Promise<ImageStore> {
  return ImageStore.open(ctx.options.root);
}

/**
 * docker's wording of a missing image named by the user: `No such image: alpine:latest` (the familiar name with its
 * default tag); IDs and digests are shown as given.
 */
export function noSuchImage(error: unknown, input: string): unknown {
  if (!(error instanceof Error) || !('code' in error) || error.code !== 'IMAGE_UNKNOWN') return error;
  if (input.startsWith('sha256:') || /^[a-f0-9]{64}$/.test(input)) return error;
  let shown: string;
  try {
    shown = familiarString(normalizeReference(input));
  } catch {
    return error;
  }
  return new CommandError('IMAGE_UNKNOWN', `No such image: ${shown}`, { cause: error });
}
