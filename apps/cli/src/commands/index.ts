import type { LadeCommand, Runtime } from '../command.js';

/** Adds every command group to the program. */
export function registerCommands(program: LadeCommand, runtime: Runtime): void {
  void program;
  void runtime;
}
