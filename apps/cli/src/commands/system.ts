import { addCommand, addGroup, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CancelledError, CommandError } from '../errors.js';
import { readLine } from '../io.js';
import { createdSince, displaySize, humanSize, renderFormat, truncateId } from '../output.js';
import { openStore } from '../store.js';
import { version } from '../version.js';

function reclaimable(bytes: number, total: number): string {
  return total > 0 ? `${humanSize(bytes)} (${Math.trunc((bytes * 100) / total)}%)` : humanSize(bytes);
}

async function df(
  ctx: CliContext,
  _args: string[],
  flags: { verbose?: boolean; format?: string; json?: boolean },
): Promise<void> {
  const store = await openStore(ctx);
  const report = await store.df();
  if (flags.json) {
    await ctx.out(JSON.stringify(report, null, 2));
    return;
  }
  const rows = [
    {
      Type: 'Images',
      TotalCount: String(report.images.total),
      Active: String(report.images.active),
      Size: humanSize(report.images.size),
      Reclaimable: reclaimable(report.images.reclaimable, report.images.size),
    },
    { Type: 'Containers', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
    { Type: 'Local Volumes', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
    { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
  ];
  const headers = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
  if (!flags.verbose) {
    await ctx.io.stdout.write(
      renderFormat(flags.format ?? '', rows, {
        headers,
        defaultFormat: 'table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}',
        contextRows: true,
      }),
    );
    return;
  }
  const now = Date.now();
  const images = report.rows.map((r) => ({
    Repository: r.repository,
    Tag: r.tag,
    ID: truncateId(r.imageId),
    CreatedSince: r.created ? createdSince(r.created, now) : 'N/A',
    Size: displaySize(r.size),
    SharedSize: displaySize(r.sharedSize),
    UniqueSize: displaySize(r.uniqueSize),
    Containers: String(r.containers),
  }));
  await ctx.out('Images space usage:\n');
  await ctx.io.stdout.write(
    renderFormat('', images, {
      headers: {
        Repository: 'REPOSITORY',
        Tag: 'TAG',
        ID: 'IMAGE ID',
        CreatedSince: 'CREATED',
        Size: 'SIZE',
        SharedSize: 'SHARED SIZE',
        UniqueSize: 'UNIQUE SIZE',
        Containers: 'CONTAINERS',
      },
      defaultFormat:
        'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.Containers}}',
    }),
  );
  await ctx.out(
    `\nUnreferenced blobs (reclaimed by \`lade system prune\`): ${report.garbage.blobs}, ${humanSize(report.garbage.bytes)}`,
  );
}

async function fsck(ctx: CliContext, _args: string[], flags: { json?: boolean }): Promise<void> {
  const store = await openStore(ctx);
  const r = await store.fsck();
  if (flags.json) {
    await ctx.out(JSON.stringify(r, null, 2));
  } else {
    await ctx.out(`Checked ${r.blobsChecked} blobs (${humanSize(r.bytesChecked)}) in ${store.root}`);
    for (const c of r.corrupt) await ctx.out(`corrupt: ${c.digest} (${c.path}) hashes to ${c.actual}`);
    for (const m of r.missing) await ctx.out(`missing: ${m.digest} (needed by ${m.neededBy})`);
    for (const m of r.invalidManifests) await ctx.out(`invalid manifest: ${m.digest}: ${m.problem}`);
    if (r.orphans.length > 0 || r.garbage.length > 0) {
      const bytes = r.orphans.reduce((n, b) => n + b.size, 0) + r.garbage.reduce((n, g) => n + g.size, 0);
      await ctx.out(
        `garbage: ${r.orphans.length} unreferenced blobs, ${r.garbage.length} leftover files, ${humanSize(bytes)} (removed by \`lade system prune\`)`,
      );
    }
    await ctx.out(
      r.ok ? 'Store is consistent' : 'Store is damaged: pull the affected images again, then run `lade system prune`',
    );
  }
  if (!r.ok) throw new CommandError('FSCK_FAILED', `store ${store.root} failed the check`);
}

async function systemPrune(ctx: CliContext, _args: string[], flags: { all?: boolean; force?: boolean }): Promise<void> {
  if (!flags.force) {
    const what = flags.all
      ? '  - all images not used by a container (lade runs none: every image)'
      : '  - all dangling images';
    await ctx.io.stdout.write(
      `WARNING! This will remove:\n${what}\n  - unreferenced blobs and leftover temp files\n\nAre you sure you want to continue? [y/N] `,
    );
    const answer = (await readLine(ctx.io.stdin)) ?? '';
    if (answer.trim().toLowerCase() !== 'y') throw new CancelledError('system prune has been cancelled');
  }
  const store = await openStore(ctx);
  const result = await store.prune({ all: flags.all === true });
  if (result.deleted.length > 0) {
    await ctx.out('Deleted Images:');
    for (const e of result.deleted)
      await ctx.out('Untagged' in e ? `untagged: ${e.Untagged}` : `deleted: ${e.Deleted}`);
    await ctx.out('');
  }
  await ctx.out(`Total reclaimed space: ${humanSize(result.reclaimedBytes)}`);
}

/** `lade version`: docker's client section (there is no server). */
async function versionCommand(ctx: CliContext, _args: string[], flags: { format?: string }): Promise<void> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  const info = { Client: { Version: version, NodeVersion: process.version, Os: process.platform, Arch: arch } };
  if (flags.format !== undefined) {
    await ctx.io.stdout.write(renderFormat(flags.format, [info], { missingFields: 'no-value' }));
    return;
  }
  await ctx.out(
    `Client:\n Version:           ${version}\n Node.js version:   ${process.version}\n OS/Arch:           ${process.platform}/${arch}`,
  );
}

/** `lade system df|fsck|prune` and `lade version`. */
export function registerSystemCommands(program: LadeCommand, runtime: Runtime): void {
  addCommand(
    program,
    'version',
    {
      usage: '',
      description: 'Show the lade version information',
      args: { exact: 0 },
      flags: (c) => c.option('-f, --format <string>', 'Format output using a custom template'),
      run: versionCommand,
    },
    runtime,
  );
  const system = addGroup(program, 'system', 'Manage the local image store');
  addCommand(
    system,
    'df',
    {
      usage: '',
      description: 'Show disk usage of the image store',
      args: { exact: 0 },
      flags: (c) =>
        c
          .option('-v, --verbose', 'Show detailed information on space usage')
          .option(
            '--format <string>',
            "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'",
          )
          .option('--json', 'Print the report as JSON (lade)'),
      run: df,
    },
    runtime,
  );
  addCommand(
    system,
    'fsck',
    {
      usage: '',
      description: 'Re-hash every blob of the store and check that every image is complete',
      args: { exact: 0 },
      flags: (c) => c.option('--json', 'Print the report as JSON'),
      run: fsck,
    },
    runtime,
  );
  addCommand(
    system,
    'prune',
    {
      usage: '',
      description: 'Remove dangling images, unreferenced blobs and leftover temp files',
      args: { exact: 0 },
      flags: (c) =>
        c
          .option('-a, --all', 'Remove all images, not just dangling ones')
          .option('-f, --force', 'Do not prompt for confirmation'),
      run: systemPrune,
    },
    runtime,
  );
}
