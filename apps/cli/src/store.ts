import { ImageStore } from '@lade/store';
import type { CliContext } from './context.js';

/** Opens the local image store at `--root` / `$LADE_HOME`. */
export function openStore(ctx: CliContext): Promise<ImageStore> {
  return ImageStore.open(ctx.options.root);
}
