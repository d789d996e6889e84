import pkg from '../package.json' with { type: 'json' };

/** lade's version, as `lade --version` prints it. */
export const version: string = pkg.version;
