import type { LadeCommand, Runtime } from '../command.js';
import { registerImageCommands } from './image.js';
import { registerRegistryCommands } from './registry.js';

/** Adds every command group to the program. */
export function registerCommands(program: LadeCommand, runtime: Runtime): void {
  registerImageCommands(program, runtime);
  registerRegistryCommands(program, runtime);
}
