#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { isLadeError } from '@lade/digest';
import { loadConfig, parseAddr, parseConfig, type ServerConfig } from './config.js';
import { serve } from './node.js';
import { createRegistry } from './registry.js';

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
  let config: ServerConfig = values.config
    ? loadConfig(values.config)
    : parseConfig('storage: {filesystem: {rootdirectory: ./registry-data}}');
  if (values.root)
    config = {
      ...config,
      registry: {
        ...config.registry,
        storage: parseConfig(`storage: {filesystem: {rootdirectory: ${JSON.stringify(values.root)}}}`).registry
          .storage!,
      },
    };
  if (values.addr) config = { ...config, ...parseAddr(values.addr) };
  if (values['read-only']) config = { ...config, registry: { ...config.registry, readOnly: true } };
  const accessLog = config.accessLog && !values['no-access-log'];
  const registry = createRegistry({
    ...config.registry,
    ...(accessLog ? { log: (entry) => process.stdout.write(`${JSON.stringify(entry)}\n`) } : {}),
  });

  if (command === 'garbage-collect' || command === 'gc') {
    const grace = values.grace !== undefined ? Number(values.grace) * 1000 : undefined;
    const report = await registry.collectGarbage({
      ...(values['dry-run'] ? { dryRun: true } : {}),
      ...(grace !== undefined ? { gracePeriodMs: grace } : {}),
    });
    process.stdout.write(`${JSON.stringify({ ...report, deleted: undefined, deletedDigests: report.deleted })}\n`);
    await registry.close();
    return;
  }
  if (command !== 'serve') fail(`unknown command "${command}"\n${usage}`);

  const server = await serve({ registry, port: config.port, hostname: config.hostname });
  process.stderr.write(`lade-server listening on ${server.url} (storage: ${registry.store.driver.name})\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`lade-server: ${signal}, finishing in-flight requests\n`);
    await server.close();
    await registry.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(isLadeError(err) ? `${err.message} (${err.code})` : String((err as Error)?.stack ?? err));
});
