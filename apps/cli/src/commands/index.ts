import type { LadeCommand, Runtime } from '../command.js';
import { registerArchiveCommands } from './archive.js';
import { registerCopyCommand } from './copy.js';
import { registerImageCommands } from './image.js';
import { registerManifestCommands } from './manifest.js';
import { registerRegistryCommands } from './registry.js';
import { registerRootfsCommands } from './rootfs.js';
import { registerServeCommand } from './serve.js';
import { registerSystemCommands } from './system.js';

/** Adds every command group to the program. */
export function registerCommands(program: LadeCommand, runtime: Runtime): void {
  const image = registerImageCommands(program, runtime);
  registerArchiveCommands(program, image, runtime);
  registerRegistryCommands(program, runtime);
  registerCopyCommand(program, runtime);
  registerSystemCommands(program, runtime);
  registerServeCommand(program, runtime);
  registerManifestCommands(program, runtime);
  registerRootfsCommands(program, runtime);
}
