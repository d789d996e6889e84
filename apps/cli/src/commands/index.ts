import type { LadeCommand, Runtime } from '../command.js';
import { registerRegistryCommands } from './registry.js';

/** Adds every command group to the program. */
export function registerCommands(program: LadeCommand, runtime: Runtime): void {
  registerRegistryCommands(program, runtime);
}
