#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { isLadeError } from '@lade/digest';
import { createRegistry } from './registry.js';
import { resolveServerConfig, startServer } from './standalone.js';

const usage = `lade-server — an OCI distribution registry

usage:
  lade-server [serve] [--config registry.yml] [--addr HOST:PORT] [--root DIR] [--read-only]
  lade-server garbage-collect [--config registry.yml] [--root DIR] [--dry-run] [--grace SECONDS]

  --config FILE   YAML config close to distribution's (storage, http.addr, auth, proxy)
  --addr ADDR     listen address (overrides http.addr; default :5000)
  --root DIR      filesystem storage root (overrides storage)
  --read-only     refuse writes (maintenance mode)
  --no-access-log do not print JSON access log lines`;

function fail(message: string): never {
  process.stderr.write(`lade-server: ${message}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      addr: { type: 'string' },
      root: { type: 'string' },
      'read-only': { type: 'boolean' },
      'no-access-log': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      grace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const command = positionals[0] ?? 'serve';
  const base = {
    ...(values.config ? { config: values.config } : {}),
    ...(values.addr ? { addr: values.addr } : {}),
    ...(values.root ? { root: values.root } : {}),
    ...(values['read-only'] ? { readOnly: true } : {}),
  };

  if (command === 'garbage-collect' || command === 'gc') {
    const registry = createRegistry(resolveServerConfig(base).registry);
    const grace = values.grace !== undefined ? Number(values.grace) * 1000 : undefined;
    const report = await registry.collectGarbage({
      ...(values['dry-run'] ? { dryRun: true } : {}),
      ...(grace !== undefined ? { gracePeriodMs: grace } : {}),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    await registry.close();
    return;
  }
  if (command !== 'serve') fail(`unknown command "${command}"\n${usage}`);

  const started = await startServer({ ...base, ...(values['no-access-log'] ? { log: null } : {}) });
  process.stderr.write(
    `lade-server listening on ${started.server.url} (storage: ${started.registry.store.driver.name})\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`lade-server: ${signal}, finishing in-flight requests\n`);
    await started.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(isLadeError(err) ? `${err.message} (${err.code})` : String((err as Error)?.stack ?? err));
});
