import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressLayer, decompress, readTar, type TarWriteEntry, writeTar } from '@lade/archive';
import type { Digest } from '@lade/digest';
import {
  buildConfig,
  buildManifest,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  hostPlatform,
  type ImageConfig,
  type ImageSource,
  MediaType,
  type Platform,
  parsePlatform,
} from '@lade/manifest';
import { cleanEntryPath, type LoadedImage, loadImage } from '@lade/rootfs';
import type { ImageStore } from '@lade/store';
import type { Instruction } from 'dockerfile-ast';
import { type Download, DownloadError, download, isOtherUrl, isUrl, parseChecksum } from '../build/fetch.js';
import { type HealthConfig, healthcheckHistory, parseGoDuration } from '../build/healthcheck.js';
import { lazyFile, Spool } from '../build/spool.js';
import { type LayerBlob, StageFs } from '../build/stage-fs.js';
import { type Owner, resolveOwner, type StageFileReader, UnknownIdError } from '../build/users.js';
import { CommandError } from '../errors.js';

// ---- writing images into the store ----

export type { LayerBlob } from '../build/stage-fs.js';

/** Compresses a layer tar (gzip, deterministic) into a file under `dir`, hashing both forms in the same pass. */
export async function writeLayerBlob(
  tar: ReadableStream<Uint8Array>,
  dir: string,
  mediaType: string,
): Promise<LayerBlob> {
  const { stream, result } = compressLayer(tar, 'gzip');
  const path = join(dir, `layer-${Math.random().toString(36).slice(2)}.tar.gz`);
  await pipeline(
    Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>),
    createWriteStream(path),
  );
  const r = await result;
  return { path, descriptor: { mediaType, digest: r.digest, size: r.size }, diffId: r.diffId };
}

/** Everything an image needs besides its base layers. */
export interface NewImage {
  /** The base image (its layers are already in the store), or undefined for `scratch`. */
  readonly base?: LoadedImage;
  readonly baseSource?: ImageSource;
  readonly layers: readonly LayerBlob[];
  readonly config: ImageConfig;
  /** Docker v2.2 media types (when the base has them), else OCI. */
  readonly docker: boolean;
}

/** Writes the new layers, config and manifest into the store under `name`; returns the image ID (config digest). */
export async function storeImage(
  store: ImageStore,
  name: string,
  image: NewImage,
): Promise<{ id: Digest; manifest: Descriptor }> {
  const config = buildConfig(image.config, {
    mediaType: image.docker ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG,
  });
  const manifest = buildManifest({
    mediaType: image.docker ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
    config: config.descriptor,
    layers: [...(image.base?.layers ?? []), ...image.layers.map((l) => l.descriptor)],
  });
  const sink = store.sink(name);
  try {
    for (const l of image.base?.layers ?? []) {
      if (!(await sink.hasBlob(l))) {
        if (!image.baseSource)
          throw new CommandError(
            'BLOB_UNKNOWN',
            `layer ${l.digest} of the base image is missing from the store; pull the base image again`,
          );
        await sink.writeBlob(l, await image.baseSource.openBlob(l));
      }
    }
    for (const l of image.layers) {
      if (!(await sink.hasBlob(l.descriptor)))
        await sink.writeBlob(
          l.descriptor,
          Readable.toWeb(createReadStream(l.path)) as unknown as ReadableStream<Uint8Array>,
        );
    }
    await sink.writeBlob(config.descriptor, new Response(config.bytes as BodyInit).body as ReadableStream<Uint8Array>);
    const root = { ...manifest.descriptor };
    await sink.writeManifest(root, manifest.bytes, { root: true });
    await sink.commit?.();
  } finally {
    await sink.close?.();
  }
  return { id: config.descriptor.digest, manifest: manifest.descriptor };
}

/** The gzip layer media type matching a manifest's flavour. */
export function layerMediaType(docker: boolean): string {
  return docker ? MediaType.DOCKER_LAYER_GZIP : MediaType.OCI_LAYER_GZIP;
}

/** Seconds since the epoch from `$SOURCE_DATE_EPOCH`, when set. */
export function sourceDateEpoch(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v))
    throw new CommandError(
      'USAGE',
      `SOURCE_DATE_EPOCH="${v}" is not a number of seconds since the epoch; unset it or give an integer`,
    );
  return Number.parseInt(v, 10);
}

// ---- Dockerfile instructions that change only the config ----

type MutableConfig = { -readonly [K in keyof ContainerConfig]: ContainerConfig[K] };

/** What metadata instructions change: the container config and the author. */
export interface ConfigState {
  config: MutableConfig;
  author?: string;
  /** Whether CMD was set since FROM (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function lineError(line: number, message: string): CommandError {
  return new CommandError('DOCKERFILE_INVALID', `Dockerfile:${line}: ${message}`);
}

/** Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` as the Dockerfile frontend does (`\$` stays literal). */
export function expandVariables(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, braced, op, word, bare) => {
      if (m === '\\$') return '$';
      const name = (braced ?? bare) as string;
      const value = vars.get(name);
      if (op === '-') return value === undefined || value === '' ? (word as string) : value;
      if (op === '+') return value === undefined || value === '' ? '' : (word as string);
      return value ?? '';
    },
  );
}

/** A JSON-form argument list (`["a", "b"]`), or undefined for the shell form. */
function jsonForm(raw: string): string[] | undefined {
  const t = raw.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: docker then treats it as the shell form
  }
  return undefined;
}

function rawArgs(inst: Instruction): string {
  return (inst.getArgumentsContent() ?? '').replace(/\\\n/g, ' ').trim();
}

function shellWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

function propertyPairs(inst: Instruction, vars: ReadonlyMap<string, string>): [string, string][] {
  const props = (
    inst as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
  ).getProperties();
  return props.map((p) => [expandVariables(p.getName(), vars), expandVariables(p.getValue() ?? '', vars)]);
}

function setEnv(config: MutableConfig, key: string, value: string): void {
  const env = [...(config.Env ?? [])].filter((e) => e.split('=')[0] !== key);
  env.push(`${key}=${value}`);
  config.Env = env;
}

/** The current ENV as a variable map (ARGs are layered under it by the caller). */
function envMap(config: MutableConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of config.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function commandLine(inst: Instruction, shell: readonly string[]): string[] {
  return jsonForm(rawArgs(inst)) ?? [...shell, rawArgs(inst)];
}

/**
 * Applies a metadata instruction (ENV, LABEL, CMD, ENTRYPOINT, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, SHELL,
 * MAINTAINER) to `state`; returns the history `created_by` text, or undefined when `inst` is not one of them.
 */
export function applyMetadata(
  state: ConfigState,
  inst: Instruction,
  vars: ReadonlyMap<string, string>,
  line: number,
): string | undefined {
  const c = state.config;
  const keyword = inst.getKeyword();
  const shell = c.Shell && c.Shell.length > 0 ? c.Shell : ['/bin/sh', '-c'];
  const raw = rawArgs(inst);
  switch (keyword) {
    case 'ENV': {
      const pairs = propertyPairs(inst, vars);
      if (pairs.length === 0) throw lineError(line, 'ENV needs at least one KEY=VALUE');
      for (const [k, v] of pairs) setEnv(c, k, v);
      return `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    }
    case 'LABEL': {
      const pairs = propertyPairs(inst, vars);
      if (pairs.length === 0) throw lineError(line, 'LABEL needs at least one KEY=VALUE');
      c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) };
      return `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    }
    case 'CMD': {
      c.Cmd = commandLine(inst, shell);
      state.cmdSet = true;
      return `CMD ${JSON.stringify(c.Cmd)}`;
    }
    case 'ENTRYPOINT': {
      c.Entrypoint = commandLine(inst, shell);
      // docker: an ENTRYPOINT resets a CMD inherited from the base image.
      if (!state.cmdSet) c.Cmd = null;
      return `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`;
    }
    case 'WORKDIR': {
      const dir = expandVariables(raw, vars);
      if (dir === '') throw lineError(line, 'WORKDIR needs a path');
      c.WorkingDir = posix.resolve(c.WorkingDir || '/', dir);
      return `WORKDIR ${c.WorkingDir}`;
    }
    case 'USER': {
      c.User = expandVariables(raw, vars);
      if (c.User === '') throw lineError(line, 'USER needs a user name or ID');
      return `USER ${c.User}`;
    }
    case 'EXPOSE': {
      const ports = shellWords(expandVariables(raw, vars));
      if (ports.length === 0) throw lineError(line, 'EXPOSE needs at least one port');
      const exposed: Record<string, Record<string, never>> = { ...(c.ExposedPorts ?? {}) };
      for (const p of ports) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p))
          throw lineError(line, `invalid port "${p}" in EXPOSE; use PORT[/PROTOCOL]`);
        exposed[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      c.ExposedPorts = exposed;
      return `EXPOSE map[${Object.keys(exposed)
        .sort()
        .map((k) => `${k}:{}`)
        .join(' ')}]`;
    }
    case 'VOLUME': {
      const vols = (jsonForm(raw) ?? shellWords(raw)).map((v) => expandVariables(v, vars));
      if (vols.length === 0) throw lineError(line, 'VOLUME needs at least one path');
      c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
      return `VOLUME ${JSON.stringify(vols)}`;
    }
    case 'STOPSIGNAL': {
      c.StopSignal = expandVariables(raw, vars);
      return `STOPSIGNAL ${c.StopSignal}`;
    }
    case 'SHELL': {
      const s = jsonForm(raw);
      if (!s || s.length === 0) throw lineError(line, 'SHELL needs the JSON form, e.g. SHELL ["/bin/bash", "-c"]');
      c.Shell = s;
      return `SHELL ${JSON.stringify(s)}`;
    }
    case 'MAINTAINER': {
      state.author = expandVariables(raw, vars);
      return `MAINTAINER ${state.author}`;
    }
    default:
      return undefined;
  }
}

let parserModule: Promise<typeof import('dockerfile-ast')> | undefined;
/** dockerfile-ast is loaded only by the commands that parse instructions, so it does not slow every lade start. */
async function dockerfileParser(): Promise<typeof import('dockerfile-ast').DockerfileParser> {
  parserModule ??= import('dockerfile-ast');
  return (await parserModule).DockerfileParser;
}

/**
 * Applies `-c` changes (docker commit/import's `--change`: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME,
 * WORKDIR, STOPSIGNAL) to a container config.
 */
export async function applyChanges(
  config: ContainerConfig | undefined,
  changes: readonly string[],
): Promise<ContainerConfig> {
  const DockerfileParser = await dockerfileParser();
  const state: ConfigState = { config: { ...(config ?? {}) }, cmdSet: true };
  for (const change of changes) {
    const df = DockerfileParser.parse(change);
    const insts = df.getInstructions();
    if (insts.length !== 1)
      throw new CommandError('USAGE', `invalid change "${change}": give one instruction, e.g. -c 'CMD ["sh"]'`);
    const inst = insts[0] as Instruction;
    const allowed = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];
    if (!allowed.includes(inst.getKeyword())) {
      throw new CommandError(
        'USAGE',
        `${inst.getKeyword()} is not a supported change; use one of ${allowed.join(', ')}`,
      );
    }
    applyMetadata(state, inst, envMap(state.config), 1);
  }
  return state.config;
}

// ---- the build context ----

interface IgnoreRule {
  readonly re: RegExp;
  readonly negate: boolean;
}

function globToRegExp(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (ch === '\\' && i + 1 < glob.length) {
      out += `\\${glob[++i]}`;
    } else out += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}

/** `.dockerignore` rules (Go filepath.Match patterns plus `**`, `!` exceptions, the last match wins). */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split('\n')) {
    line = line.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const cleaned = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (cleaned === '' || cleaned === '.') continue;
    // A pattern excludes what it matches and everything under it.
    rules.push({ re: new RegExp(`^${globToRegExp(cleaned)}(/.*)?$`), negate });
  }
  return rules;
}

/** True when the last rule matching `rel` (or a parent of it) excludes it. */
export function ignored(rules: readonly IgnoreRule[], rel: string): boolean {
  let out = false;
  for (const r of rules) if (r.re.test(rel)) out = !r.negate;
  return out;
}

interface ContextFile {
  /** Path in the context, `/`-separated. */
  readonly rel: string;
  readonly abs: string;
}

/** The context paths a COPY/ADD source names: a plain path, or a glob matched component by component. */
function matchSources(context: string, source: string, rules: readonly IgnoreRule[], line: number): ContextFile[] {
  const parts = cleanEntryPath(source);
  if (parts === undefined) throw lineError(line, `source "${source}" is outside the build context`);
  if (parts.length === 0) return [{ rel: '', abs: context }];
  let found: string[] = [''];
  for (const part of parts) {
    const next: string[] = [];
    const isGlob = /[*?[]/.test(part);
    const re = isGlob ? new RegExp(`^${globToRegExp(part)}$`) : undefined;
    for (const base of found) {
      const abs = base === '' ? context : join(context, base);
      if (!re) {
        const rel = base === '' ? part : `${base}/${part}`;
        if (existsSync(join(context, rel)) || lstatSync(join(context, rel), { throwIfNoEntry: false })) next.push(rel);
        continue;
      }
      let names: string[] = [];
      try {
        names = readdirSync(abs).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(base === '' ? n : `${base}/${n}`);
    }
    found = next;
  }
  const out = found.filter((rel) => !ignored(rules, rel)).map((rel) => ({ rel, abs: join(context, rel) }));
  if (out.length === 0)
    throw lineError(line, `"${source}" matches no file in the build context (or all are excluded by .dockerignore)`);
  return out;
}

// ---- COPY / ADD layers ----

interface CopyOptions {
  readonly uid: number;
  readonly gid: number;
  readonly chmod?: number;
  readonly epoch?: number;
}

function mtimeOf(abs: string, epoch: number | undefined): number {
  const s = Math.floor(lstatSync(abs).mtimeMs / 1000);
  return epoch !== undefined ? Math.min(s, epoch) : s;
}

/** Tar entries for context path `abs` placed at `dest` (no leading `/`), recursing into directories. */
function entriesFor(
  abs: string,
  rel: string,
  dest: string,
  rules: readonly IgnoreRule[],
  o: CopyOptions,
  out: Map<string, TarWriteEntry>,
): void {
  const st = lstatSync(abs);
  const mode = o.chmod ?? st.mode & 0o7777;
  const common = { uid: o.uid, gid: o.gid, mtime: mtimeOf(abs, o.epoch) };
  if (st.isDirectory()) {
    if (dest !== '') out.set(dest, { header: { name: `${dest}/`, type: 'directory', mode, ...common } });
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (ignored(rules, childRel)) continue;
      entriesFor(join(abs, name), childRel, dest === '' ? name : `${dest}/${name}`, rules, o, out);
    }
  } else if (st.isSymbolicLink()) {
    out.set(dest, { header: { name: dest, type: 'symlink', linkname: readlinkSync(abs), mode: 0o777, ...common } });
  } else if (st.isFile()) {
    out.set(dest, { header: { name: dest, type: 'file', size: st.size, mode, ...common }, body: lazyFile(abs) });
  }
}

async function isTarArchive(abs: string): Promise<boolean> {
  const { stream } = await decompress(
    Readable.toWeb(createReadStream(abs, { end: 1024 * 1024 })) as unknown as ReadableStream<Uint8Array>,
  );
  const reader = stream.getReader();
  let head = new Uint8Array();
  while (head.length < 512) {
    const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (r.done) break;
    const next = new Uint8Array(head.length + r.value.length);
    next.set(head);
    next.set(r.value, head.length);
    head = next;
  }
  await reader.cancel().catch(() => {});
  return head.length >= 512 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar';
}

/** ADD's auto-extraction: every entry of a local tar, rebased under `dest`. */
async function extractEntries(
  abs: string,
  dest: string,
  out: Map<string, TarWriteEntry>,
  o: CopyOptions,
  spool: Spool,
): Promise<void> {
  const { stream } = await decompress(Readable.toWeb(createReadStream(abs)) as unknown as ReadableStream<Uint8Array>);
  for await (const e of readTar(stream)) {
    const parts = cleanEntryPath(e.header.name);
    if (parts === undefined || parts.length === 0 || e.header.type === 'other') continue;
    const name = dest === '' ? parts.join('/') : `${dest}/${parts.join('/')}`;
    const h = e.header;
    const mtime = o.epoch !== undefined ? Math.min(h.mtime, o.epoch) : h.mtime;
    const base = { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime };
    switch (h.type) {
      case 'directory':
        out.set(name, { header: { name: `${name}/`, type: 'directory', ...base } });
        break;
      case 'file':
        out.set(name, {
          header: { name, type: 'file', size: h.size, ...base },
          body: lazyFile(await spool.write(e.body)),
        });
        break;
      case 'symlink':
        out.set(name, { header: { name, type: 'symlink', linkname: h.linkname, ...base } });
        break;
      case 'hardlink': {
        const target = cleanEntryPath(h.linkname);
        if (target)
          out.set(name, {
            header: {
              name,
              type: 'hardlink',
              linkname: dest === '' ? target.join('/') : `${dest}/${target.join('/')}`,
              ...base,
            },
          });
        break;
      }
      default:
        if (h.type === 'other') break;
        out.set(name, { header: { name, type: h.type, devmajor: h.devmajor, devminor: h.devminor, ...base } });
    }
  }
}

// ---- the build ----

/** Options of {@link buildImage}. */
export interface BuildOptions {
  readonly context: string;
  /** Path of the Dockerfile (default CONTEXT/Dockerfile). */
  readonly dockerfile?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  readonly platform?: Platform;
  /** The stage to build (`--target`); default the last one. */
  readonly target?: string;
  /** Pulls an image FROM or COPY --from names that the store lacks (without it, such an image is an error). */
  readonly pull?: (name: string, platform: Platform) => Promise<void>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Called with each step as it starts (`Step 1/3 : FROM scratch`). */
  readonly onStep?: (text: string) => Promise<void>;
}

/** What {@link buildImage} made. */
export interface BuildResult {
  readonly id: Digest;
  readonly manifest: Descriptor;
}

function lineOf(inst: Instruction): number {
  return inst.getRange().start.line + 1;
}

function flagsOf(inst: Instruction): Map<string, string> {
  const getFlags = (inst as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] })
    .getFlags;
  const out = new Map<string, string>();
  for (const f of getFlags ? getFlags.call(inst) : []) out.set(f.getName(), f.getValue() ?? '');
  return out;
}

const SUPPORTED = [
  'FROM',
  'COPY',
  'ADD',
  'ENV',
  'ARG',
  'LABEL',
  'CMD',
  'ENTRYPOINT',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'VOLUME',
  'STOPSIGNAL',
  'SHELL',
  'MAINTAINER',
  'HEALTHCHECK',
  'ONBUILD',
];

const COPY_FLAGS: Readonly<Record<string, readonly string[]>> = {
  COPY: ['from', 'chown', 'chmod', 'link'],
  ADD: ['chown', 'chmod', 'checksum', 'link'],
};

/** One `FROM` and the instructions up to the next. */
interface StageDef {
  readonly index: number;
  /** The `AS` name, lowercased (stage names are case-insensitive). */
  readonly name?: string;
  readonly from: Instruction;
  readonly instructions: Instruction[];
}

/** A stage as it is being built. */
interface StageState {
  fs: StageFs;
  state: ConfigState;
  history: HistoryEntry[];
  platform: Platform;
  docker: boolean;
  stageArgs: Map<string, string>;
}

/** The word an ONBUILD triggers, checked as `docker build` checks it. */
function checkTrigger(trigger: string, line: number): void {
  const word = (trigger.trim().split(/\s+/)[0] ?? '').toUpperCase();
  if (word === '') throw lineError(line, 'ONBUILD needs an instruction to trigger, e.g. ONBUILD COPY . /app');
  if (word === 'ONBUILD')
    throw lineError(line, 'chaining ONBUILD via `ONBUILD ONBUILD` is not allowed; give the trigger once');
  if (word === 'FROM' || word === 'MAINTAINER')
    throw lineError(line, `${word} is not allowed as an ONBUILD trigger; use another instruction`);
}

function durationFlag(flags: Map<string, string>, name: string, line: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined || v === '') return undefined;
  const d = parseGoDuration(v);
  if (d === undefined)
    throw lineError(line, `HEALTHCHECK --${name}=${v} is not a duration; give one such as 30s, 1m30s or 500ms`);
  if (d === 0) return undefined;
  if (d < 1e6) throw lineError(line, `HEALTHCHECK --${name}=${v} cannot be less than 1ms; give at least 1ms`);
  return d;
}

/** HEALTHCHECK NONE | HEALTHCHECK [--interval … --retries N] CMD command, as BuildKit parses it. */
function parseHealthcheck(inst: Instruction, line: number): HealthConfig {
  const flags = flagsOf(inst);
  const rest = rawArgs(inst).replace(/^(\s*--\S+)+\s*/, '');
  const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
  if (!m) throw lineError(line, 'HEALTHCHECK needs NONE or CMD followed by a command');
  const type = (m[1] as string).toUpperCase();
  const args = (m[2] as string).trim();
  if (type === 'NONE') {
    if (args !== '') throw lineError(line, 'HEALTHCHECK NONE takes no arguments; remove what follows NONE');
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD') throw lineError(line, `unknown type "${type}" in HEALTHCHECK; use CMD or NONE`);
  for (const f of flags.keys())
    if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(f))
      throw lineError(
        line,
        `unknown flag --${f} of HEALTHCHECK; use --interval, --timeout, --start-period, --start-interval or --retries`,
      );
  const json = jsonForm(args);
  if (args === '' || (json !== undefined && json.length === 0))
    throw lineError(line, 'HEALTHCHECK CMD needs a command after CMD');
  const h: HealthConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', args] };
  const interval = durationFlag(flags, 'interval', line);
  const timeout = durationFlag(flags, 'timeout', line);
  const startPeriod = durationFlag(flags, 'start-period', line);
  const startInterval = durationFlag(flags, 'start-interval', line);
  if (interval !== undefined) h.Interval = interval;
  if (timeout !== undefined) h.Timeout = timeout;
  if (startPeriod !== undefined) h.StartPeriod = startPeriod;
  if (startInterval !== undefined) h.StartInterval = startInterval;
  const r = flags.get('retries');
  if (r !== undefined && r !== '') {
    if (!/^-?\d+$/.test(r)) throw lineError(line, `HEALTHCHECK --retries=${r} is not a whole number; give e.g. 3`);
    const n = Number.parseInt(r, 10);
    if (n < 0) throw lineError(line, `HEALTHCHECK --retries=${r} cannot be negative; give 0 or more`);
    if (n > 0) h.Retries = n;
  }
  return h;
}

function isMissingImage(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'IMAGE_UNKNOWN' || code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN';
}

function byPath<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

const decoder = new TextDecoder();

/** One run of {@link buildImage}: the parsed Dockerfile, the stages built so far, and what every step shares. */
class Build {
  private readonly stages: StageDef[] = [];
  private readonly built = new Map<number, StageState>();
  private readonly building = new Set<number>();
  private readonly images = new Map<string, StageFs>();
  private readonly globalArgs = new Map<string, string>();
  private readonly spool: Spool;
  /** BuildKit's automatic platform arguments (TARGETPLATFORM, BUILDARCH, …): in FROM lines, and in stages that declare them. */
  private readonly autoArgs = new Map<string, string>();
  private step = 0;

  constructor(
    private readonly store: ImageStore,
    private readonly options: BuildOptions,
    private readonly context: string,
    private readonly rules: readonly IgnoreRule[],
    private readonly epoch: number | undefined,
    private readonly created: string,
    private readonly work: string,
    private readonly instructions: Instruction[],
    private readonly parser: typeof import('dockerfile-ast').DockerfileParser,
  ) {
    this.spool = new Spool(work);
    const add = (prefix: string, p: Platform) => {
      // containerd's normal form: arm64's default variant v8 is left out (linux/arm64).
      const variant = p.architecture === 'arm64' && p.variant === 'v8' ? '' : (p.variant ?? '');
      this.autoArgs.set(`${prefix}PLATFORM`, `${p.os}/${p.architecture}${variant ? `/${variant}` : ''}`);
      this.autoArgs.set(`${prefix}OS`, p.os);
      this.autoArgs.set(`${prefix}ARCH`, p.architecture);
      this.autoArgs.set(`${prefix}VARIANT`, variant);
    };
    add('BUILD', hostPlatform());
    add('TARGET', options.platform ?? hostPlatform());
  }

  /** What FROM lines expand: the global ARGs over the automatic ones. */
  private fromVars(): Map<string, string> {
    return new Map([...this.autoArgs, ...this.globalArgs]);
  }

  private async announce(inst: Instruction): Promise<void> {
    this.step++;
    await this.options.onStep?.(
      `Step ${this.step}/${this.instructions.length} : ${inst.getKeyword()} ${rawArgs(inst)}`,
    );
  }

  async run(): Promise<StageState> {
    const buildArgs = this.options.buildArgs ?? new Map<string, string>();
    let current: StageDef | undefined;
    for (const inst of this.instructions) {
      if (inst.getKeyword() === 'FROM') {
        const words = shellWords(expandVariables(rawArgs(inst), this.fromVars())).filter((w) => !w.startsWith('--'));
        const name = words.length >= 3 && words[1]?.toLowerCase() === 'as' ? words[2]?.toLowerCase() : undefined;
        if (name !== undefined && !/^[a-z][a-z0-9_.-]*$/.test(name))
          throw lineError(
            lineOf(inst),
            `invalid stage name "${words[2]}"; start with a letter and use letters, digits, '-', '_' and '.'`,
          );
        if (name !== undefined && this.stages.some((s) => s.name === name))
          throw lineError(lineOf(inst), `the stage name "${name}" is already used; give each stage its own name`);
        current = { index: this.stages.length, ...(name ? { name } : {}), from: inst, instructions: [] };
        this.stages.push(current);
      } else if (current) current.instructions.push(inst);
      else {
        // ARG before the first FROM: a global argument, usable in FROM lines.
        await this.announce(inst);
        for (const [name, def] of this.argPairs(inst)) {
          const v =
            buildArgs.get(name) ?? (def !== null ? expandVariables(def, this.fromVars()) : this.autoArgs.get(name));
          if (v !== undefined) this.globalArgs.set(name, v);
        }
      }
    }
    let target = this.stages.length - 1;
    if (this.options.target !== undefined) {
      const want = this.options.target.toLowerCase();
      target = this.stages.findIndex((s) => s.name === want);
      if (target < 0) {
        const names = this.stages.flatMap((s) => (s.name ? [s.name] : []));
        throw new CommandError(
          'USAGE',
          `target stage "${this.options.target}" could not be found; ${
            names.length > 0
              ? `the Dockerfile names ${names.join(', ')}`
              : 'the Dockerfile names no stage (FROM … AS NAME)'
          }`,
        );
      }
    }
    return this.stage(target);
  }

  /** The NAME[=default] pairs of an ARG line (one line may declare several). */
  private argPairs(inst: Instruction): [string, string | null][] {
    const props = (
      inst as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
    ).getProperties();
    if (props.length === 0) throw lineError(lineOf(inst), 'ARG needs a name, e.g. ARG VERSION=1.0');
    return props.map((p) => [p.getName(), p.getValue()]);
  }

  /** Builds stage `index` once (and the stages it needs first). */
  private async stage(index: number): Promise<StageState> {
    const done = this.built.get(index);
    if (done) return done;
    const def = this.stages[index] as StageDef;
    if (this.building.has(index))
      throw lineError(lineOf(def.from), 'the stages depend on each other in a circle; break the cycle');
    this.building.add(index);
    const st = await this.runStage(def);
    this.building.delete(index);
    this.built.set(index, st);
    return st;
  }

  /** An earlier stage a name or index refers to (undefined: it names an image). */
  private stageRef(ref: string, before: number, line: number, flag: boolean): number | undefined {
    const lower = ref.toLowerCase();
    const named = this.stages.findIndex((s) => s.name === lower && s.index < before);
    if (named >= 0) return named;
    if (flag && /^\d+$/.test(ref)) {
      const i = Number.parseInt(ref, 10);
      if (i >= before)
        throw lineError(line, `--from=${ref} refers to this or a later stage; give an earlier stage's name or index`);
      return i;
    }
    return undefined;
  }

  private async loadImageFs(ref: string, platform: Platform, line: number, what: string): Promise<StageFs> {
    const key = `${ref}@${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    const cached = this.images.get(key);
    if (cached) return cached;
    let source = this.store.source(ref);
    let image: LoadedImage;
    try {
      image = await loadImage(source, { platform });
    } catch (e) {
      if (!isMissingImage(e)) throw e;
      if (!this.options.pull)
        throw new CommandError(
          'IMAGE_UNKNOWN',
          `Dockerfile:${line}: ${what} "${ref}" is not in the local store; pull it first (lade pull ${ref})`,
          { cause: e },
        );
      // As docker does: an image the store lacks is pulled for the stage's platform.
      try {
        await this.options.pull(ref, platform);
      } catch (pullError) {
        const why = pullError instanceof Error ? pullError.message : String(pullError);
        throw new CommandError(
          (pullError as { code?: string }).code ?? 'IMAGE_UNKNOWN',
          `Dockerfile:${line}: ${what} "${ref}" is neither in the local store nor pullable: ${why.split('\n')[0]}`,
          { cause: pullError },
        );
      }
      source = this.store.source(ref);
      image = await loadImage(source, { platform });
    }
    const fs = new StageFs(image, source);
    this.images.set(key, fs);
    return fs;
  }

  private async runStage(def: StageDef): Promise<StageState> {
    const line = lineOf(def.from);
    await this.announce(def.from);
    const words = shellWords(expandVariables(rawArgs(def.from), this.fromVars())).filter((w) => !w.startsWith('--'));
    const from = words[0];
    if (!from) throw lineError(line, 'FROM needs an image name');
    let platform: Platform = this.options.platform ?? hostPlatform();
    const platformFlag = flagsOf(def.from).get('platform');
    if (platformFlag) platform = parsePlatform(expandVariables(platformFlag, this.fromVars()));
    let st: StageState;
    const ref = this.stageRef(from, def.index, line, false);
    if (from === 'scratch') {
      st = {
        fs: new StageFs(undefined, undefined),
        state: { config: { Env: [DEFAULT_PATH] }, cmdSet: false },
        history: [],
        platform,
        docker: false,
        stageArgs: new Map(),
      };
    } else if (ref !== undefined) {
      const parent = await this.stage(ref);
      st = {
        fs: await parent.fs.clone(),
        state: {
          config: structuredClone(parent.state.config),
          cmdSet: false,
          ...(parent.state.author ? { author: parent.state.author } : {}),
        },
        history: [...parent.history],
        platform: parent.platform,
        docker: parent.docker,
        stageArgs: new Map(),
      };
    } else {
      const fs = await this.loadImageFs(from, platform, line, 'base image');
      const base = fs.base as LoadedImage;
      const bc = base.config.config;
      const config: MutableConfig = structuredClone({ ...(bc.config ?? {}) }) as MutableConfig;
      if (!config.Env?.some((e) => e.startsWith('PATH='))) config.Env = [DEFAULT_PATH, ...(config.Env ?? [])];
      st = {
        fs: await fs.clone(),
        state: { config, cmdSet: false, ...(bc.author ? { author: bc.author } : {}) },
        history: [...(bc.history ?? [])],
        platform: { architecture: bc.architecture, os: bc.os, ...(bc.variant ? { variant: bc.variant } : {}) },
        docker: base.manifest.mediaType === MediaType.DOCKER_MANIFEST,
        stageArgs: new Map(),
      };
    }
    // The base's ONBUILD triggers run first, as docker runs them, and are not passed on.
    const triggers = st.state.config.OnBuild ?? [];
    delete st.state.config.OnBuild;
    for (const trigger of triggers) {
      const insts = this.parser.parse(trigger).getInstructions();
      const inst = insts[0];
      if (insts.length !== 1 || !inst)
        throw lineError(line, `the ONBUILD trigger "${trigger}" of ${from} is not one instruction; fix the base image`);
      const k = inst.getKeyword();
      if (k === 'RUN')
        throw new CommandError(
          'UNSUPPORTED',
          `Dockerfile:${line}: the ONBUILD trigger "${trigger}" of ${from} is a RUN, which needs a container runtime; lade builds images without one`,
        );
      if (!SUPPORTED.includes(k) || k === 'FROM' || k === 'MAINTAINER' || k === 'ONBUILD')
        throw lineError(line, `the ONBUILD trigger "${trigger}" of ${from} cannot run here; fix the base image`);
      await this.dispatch(st, def, inst, line);
    }
    for (const inst of def.instructions) {
      await this.announce(inst);
      await this.dispatch(st, def, inst, lineOf(inst));
    }
    return st;
  }

  private vars(st: StageState): Map<string, string> {
    return new Map([...st.stageArgs, ...envMap(st.state.config)]);
  }

  private async dispatch(st: StageState, def: StageDef, inst: Instruction, line: number): Promise<void> {
    const keyword = inst.getKeyword();
    const c = st.state.config;
    const entry = (createdBy: string, empty = true) =>
      st.history.push({
        created: this.created,
        created_by: createdBy,
        comment: 'buildkit.dockerfile.v0',
        ...(empty ? { empty_layer: true } : {}),
      });
    switch (keyword) {
      case 'ARG': {
        const parts: string[] = [];
        for (const [name, def] of this.argPairs(inst)) {
          // A global ARG is visible in a stage once the stage declares it again.
          const v =
            this.options.buildArgs?.get(name) ??
            (def !== null
              ? expandVariables(def, this.vars(st))
              : (this.globalArgs.get(name) ?? this.autoArgs.get(name)));
          if (v !== undefined) st.stageArgs.set(name, v);
          parts.push(v !== undefined ? `${name}=${v}` : name);
        }
        entry(`ARG ${parts.join(' ')}`);
        return;
      }
      case 'COPY':
      case 'ADD':
        return this.copy(st, def, inst, line);
      case 'HEALTHCHECK': {
        const h = parseHealthcheck(inst, line);
        c.Healthcheck = h;
        entry(healthcheckHistory(h));
        return;
      }
      case 'ONBUILD': {
        const expr = rawArgs(inst);
        checkTrigger(expr, line);
        c.OnBuild = [...(c.OnBuild ?? []), expr];
        entry(`ONBUILD ${expr}`);
        return;
      }
      case 'WORKDIR': {
        const createdBy = applyMetadata(st.state, inst, this.vars(st), line) as string;
        const entries = await this.workdirEntries(st, c.WorkingDir ?? '/', line);
        if (entries.length === 0) entry(createdBy);
        else await this.commitLayer(st, entries, createdBy, false);
        return;
      }
      default: {
        const createdBy = applyMetadata(st.state, inst, this.vars(st), line);
        if (createdBy === undefined)
          throw new CommandError('UNSUPPORTED', `Dockerfile:${line}: ${keyword} is not supported by lade build`);
        entry(createdBy);
      }
    }
  }

  /** Writes `entries` (sorted) as a new layer of the stage with its history entry. */
  private async commitLayer(st: StageState, entries: TarWriteEntry[], createdBy: string, buildkit: boolean) {
    const sorted = entries
      .map((e) => [e.header.name.replace(/\/$/, ''), e] as [string, TarWriteEntry])
      .sort(byPath)
      .map(([, e]) => e);
    const blob = await writeLayerBlob(writeTar(sorted, { format: 'pax' }), this.work, layerMediaType(st.docker));
    await st.fs.addLayer(blob, sorted);
    st.history.push({
      created: this.created,
      created_by: buildkit ? `${createdBy} # buildkit` : createdBy,
      comment: 'buildkit.dockerfile.v0',
    });
  }

  private reader(st: StageState): StageFileReader {
    return async (p) => {
      const bytes = await st.fs.readFile(p);
      return bytes === undefined ? undefined : decoder.decode(bytes);
    };
  }

  /** WORKDIR's `mkdir -p` (0755, owned by USER when the stage knows it, else root); nothing when it exists. */
  private async workdirEntries(st: StageState, wd: string, line: number): Promise<TarWriteEntry[]> {
    if (wd === '/') return [];
    const tree = await st.fs.nodes();
    const missing: string[] = [];
    let cur = '';
    for (const part of wd.split('/').filter((p) => p !== '')) {
      const candidate = cur === '' ? part : `${cur}/${part}`;
      if (missing.length > 0) {
        missing.push(candidate);
        cur = candidate;
        continue;
      }
      const resolved = await st.fs.resolve(candidate);
      if (resolved === undefined)
        throw lineError(line, `WORKDIR ${wd}: too many levels of symbolic links; fix the link`);
      const node = resolved === '' ? { type: 'directory' } : tree.get(resolved);
      if (!node) missing.push(resolved);
      else if (node.type !== 'directory')
        throw lineError(line, `WORKDIR ${wd}: /${resolved} exists and is not a directory; choose another path`);
      cur = resolved;
    }
    if (missing.length === 0) return [];
    const user = st.state.config.User;
    const owner = user ? await resolveOwner(user, this.reader(st), false) : { uid: 0, gid: 0 };
    return missing.map((p) => ({
      header: { name: `${p}/`, type: 'directory', mode: 0o755, ...owner, mtime: this.epoch ?? 0 },
    }));
  }

  private async copy(st: StageState, def: StageDef, inst: Instruction, line: number): Promise<void> {
    const keyword = inst.getKeyword();
    const raw = rawArgs(inst);
    const flags = flagsOf(inst);
    for (const f of flags.keys())
      if (!(COPY_FLAGS[keyword] ?? []).includes(f))
        throw lineError(
          line,
          `unknown flag --${f} of ${keyword}; ${keyword} takes --${(COPY_FLAGS[keyword] ?? []).join(', --')}`,
        );
    const vars = this.vars(st);
    const args = (jsonForm(raw) ?? shellWords(raw.replace(/(^|\s)--[a-z-]+(=\S*)?/g, ' '))).map((a) =>
      expandVariables(a, vars),
    );
    if (args.length < 2) throw lineError(line, `${keyword} needs at least one source and a destination`);
    const destRaw = args[args.length - 1] as string;
    const sources = args.slice(0, -1);
    for (const s of sources)
      if (keyword === 'ADD' && isOtherUrl(s))
        throw new CommandError(
          'UNSUPPORTED',
          `Dockerfile:${line}: ADD ${s}: lade build downloads http(s) URLs only; fetch it into the context and ADD it`,
        );
    let checksum: { algorithm: string; hex: string } | undefined;
    if (flags.has('checksum')) {
      const v = expandVariables(flags.get('checksum') as string, vars);
      checksum = parseChecksum(v);
      if (!checksum) throw lineError(line, `--checksum=${v}: give a digest such as sha256:<64 hex digits>`);
      if (sources.length !== 1) throw lineError(line, 'ADD --checksum takes one source; give each URL its own ADD');
      if (!sources.every(isUrl)) throw lineError(line, 'ADD --checksum works only with http(s) sources; drop it');
    }
    let owner: Owner | undefined;
    let chownSpec: string | undefined;
    let chmodText: string | undefined;
    if (flags.has('chown')) {
      const spec = expandVariables(flags.get('chown') as string, vars);
      chownSpec = spec;
      if (spec === '') throw lineError(line, '--chown needs USER[:GROUP]');
      try {
        owner = await resolveOwner(spec, this.reader(st), true);
      } catch (e) {
        if (!(e instanceof UnknownIdError)) throw e;
        throw lineError(
          line,
          `${keyword} --chown=${spec}: the image has no ${e.kind} "${e.idName}" in /etc/${e.kind === 'user' ? 'passwd' : 'group'}; add it first or give a numeric ID`,
        );
      }
    }
    let chmod: number | undefined;
    if (flags.has('chmod')) {
      const v = expandVariables(flags.get('chmod') as string, vars);
      if (!/^[0-7]{3,4}$/.test(v)) throw lineError(line, `--chmod=${v}: give an octal mode such as 755`);
      chmod = Number.parseInt(v, 8);
      chmodText = v;
    }
    const epoch = this.epoch;
    const o: CopyOptions = {
      uid: owner?.uid ?? 0,
      gid: owner?.gid ?? 0,
      ...(chmod !== undefined ? { chmod } : {}),
      ...(epoch !== undefined ? { epoch } : {}),
    };
    const destAbs = posix.resolve(st.state.config.WorkingDir || '/', destRaw);
    const destDirRaw = destRaw.endsWith('/') || destRaw === '.' || destRaw === '/';
    const out = new Map<string, TarWriteEntry>();
    const fromFlag = flags.has('from') ? expandVariables(flags.get('from') as string, vars) : undefined;
    let dest: string;
    if (fromFlag !== undefined) {
      if (fromFlag === '') throw lineError(line, '--from needs a stage name, a stage index or an image');
      const ref = this.stageRef(fromFlag, def.index, line, true);
      const srcFs =
        ref !== undefined
          ? (await this.stage(ref)).fs
          : await this.loadImageFs(fromFlag, st.platform, line, `image of ${keyword} --from`);
      const matched = await this.matchStage(srcFs, sources, fromFlag, line);
      const destIsDir = destDirRaw || matched.length > 1 || (await this.isDirectory(st, destAbs));
      dest = (await st.fs.resolve(destAbs, destIsDir)) ?? destAbs.slice(1);
      await this.copyFromStage(srcFs, matched, dest, destIsDir, owner, chmod, out);
    } else {
      const urls = sources.filter(isUrl);
      const locals = sources.filter((s) => !isUrl(s));
      const matched = locals.flatMap((s) => matchSources(this.context, s, this.rules, line));
      const destIsDir = destDirRaw || matched.length + urls.length > 1 || (await this.isDirectory(st, destAbs));
      dest = (await st.fs.resolve(destAbs, destIsDir)) ?? destAbs.slice(1);
      for (const url of urls) {
        let got: Download;
        try {
          got = await download(url, this.spool, checksum);
        } catch (e) {
          if (e instanceof DownloadError) throw lineError(line, `ADD: ${e.message}`);
          throw e;
        }
        const name = destIsDir ? (dest === '' ? got.filename : `${dest}/${got.filename}`) : dest;
        const t = got.mtime ?? epoch ?? 0;
        out.set(name, {
          header: {
            name,
            type: 'file',
            size: got.size,
            mode: chmod ?? 0o600,
            uid: o.uid,
            gid: o.gid,
            mtime: epoch !== undefined ? Math.min(t, epoch) : t,
          },
          body: lazyFile(got.path),
        });
      }
      for (const m of matched) {
        const stat = lstatSync(m.abs);
        if (stat.isDirectory()) {
          entriesFor(m.abs, m.rel, dest, this.rules, { ...o }, out);
        } else if (keyword === 'ADD' && stat.isFile() && (await isTarArchive(m.abs))) {
          await extractEntries(m.abs, dest, out, o, this.spool);
        } else {
          const name = m.rel.split('/').pop() as string;
          const target = destIsDir ? (dest === '' ? name : `${dest}/${name}`) : dest;
          entriesFor(m.abs, m.rel, target, this.rules, o, out);
        }
      }
    }
    // Parent directories the stage lacks are made (0755, the --chown owner or root) so the layer stands alone.
    const tree = await st.fs.nodes();
    const made = new Set<string>();
    for (const path of [...out.keys()]) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if (out.has(p) || made.has(p) || tree.has(p)) continue;
        made.add(p);
        out.set(p, {
          header: {
            name: `${p}/`,
            type: 'directory',
            mode: 0o755,
            uid: owner?.uid ?? 0,
            gid: owner?.gid ?? 0,
            mtime: epoch ?? 0,
          },
        });
      }
    }
    // A path the stage already has as a directory keeps it: no entry replaces it.
    for (const [path, e] of out)
      if (e.header.type === 'directory' && tree.get(path)?.type === 'directory') out.delete(path);
    // BuildKit's history text: the instruction, --chown and --chmod as given, then the expanded sources and destination.
    const createdBy = [
      keyword,
      ...(chownSpec !== undefined ? [`--chown=${chownSpec}`] : []),
      ...(chmodText !== undefined ? [`--chmod=${chmodText}`] : []),
      ...args,
    ].join(' ');
    await this.commitLayer(st, [...out.values()], createdBy, true);
  }

  /** True when `path` is a directory of the stage (symlinks followed): a destination that copies go into. */
  private async isDirectory(st: StageState, path: string): Promise<boolean> {
    const resolved = await st.fs.resolve(path);
    if (resolved === undefined) return false;
    return resolved === '' || (await st.fs.nodes()).get(resolved)?.type === 'directory';
  }

  /** The paths of `srcFs` that COPY --from sources name (globs matched there; symlinks in them followed). */
  private async matchStage(
    srcFs: StageFs,
    sources: readonly string[],
    from: string,
    line: number,
  ): Promise<{ path: string; base: string; dir: boolean }[]> {
    const tree = await srcFs.nodes();
    const out: { path: string; base: string; dir: boolean }[] = [];
    for (const source of sources) {
      const parts = source.split('/').filter((p) => p !== '' && p !== '.');
      let found: string[] = [''];
      for (const part of parts) {
        const next: string[] = [];
        const re = /[*?[]/.test(part) ? new RegExp(`^${globToRegExp(part)}$`) : undefined;
        for (const base of found) {
          const dir = await srcFs.resolve(base);
          if (dir === undefined) continue;
          if (!re) {
            next.push(base === '' ? part : `${base}/${part}`);
            continue;
          }
          const prefix = dir === '' ? '' : `${dir}/`;
          const names = [...tree.keys()]
            .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
            .map((k) => k.slice(prefix.length))
            .sort();
          for (const n of names) if (re.test(n)) next.push(base === '' ? n : `${base}/${n}`);
        }
        found = next;
      }
      let any = false;
      for (const f of found) {
        const resolved = await srcFs.resolve(f);
        if (resolved === undefined) continue;
        const node = resolved === '' ? { type: 'directory' } : tree.get(resolved);
        if (!node) continue;
        any = true;
        out.push({ path: resolved, base: f.split('/').pop() ?? '', dir: node.type === 'directory' });
      }
      if (!any)
        throw lineError(line, `"${source}" is not in --from=${from}; check the path (it is relative to that root)`);
    }
    return out;
  }

  /** COPY --from: the matched entries of another stage or image, placed under `dest`, ownership kept unless --chown. */
  private async copyFromStage(
    srcFs: StageFs,
    matched: readonly { path: string; base: string; dir: boolean }[],
    dest: string,
    destIsDir: boolean,
    owner: Owner | undefined,
    chmod: number | undefined,
    out: Map<string, TarWriteEntry>,
  ): Promise<void> {
    const maps = matched.map((m) => ({
      from: m.path,
      dir: m.dir,
      to: m.dir ? dest : destIsDir ? (dest === '' ? m.base : `${dest}/${m.base}`) : dest,
    }));
    const target = (p: string): string | undefined => {
      for (const m of maps) {
        if (p === m.from) return m.to;
        if (m.dir && (m.from === '' || p.startsWith(`${m.from}/`))) {
          const rel = m.from === '' ? p : p.slice(m.from.length + 1);
          return m.to === '' ? rel : `${m.to}/${rel}`;
        }
      }
      return undefined;
    };
    const entries = await srcFs.collect((p) => target(p) !== undefined, this.spool);
    const epoch = this.epoch;
    for (const [path, e] of [...entries].sort(byPath)) {
      const name = target(path) as string;
      if (name === '') continue;
      const h = e.header;
      const mtime = typeof h.mtime === 'number' && epoch !== undefined ? Math.min(h.mtime, epoch) : h.mtime;
      let linkname = h.linkname;
      if (h.type === 'hardlink') {
        const t = target(cleanEntryPath(h.linkname ?? '')?.join('/') ?? '');
        if (t === undefined) continue;
        linkname = t;
      }
      out.set(name, {
        header: {
          ...h,
          name: h.type === 'directory' ? `${name}/` : name,
          ...(linkname !== undefined ? { linkname } : {}),
          ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
          ...(chmod !== undefined && h.type !== 'symlink' ? { mode: chmod } : {}),
          ...(mtime !== undefined ? { mtime } : {}),
        },
        ...(e.file !== undefined ? { body: lazyFile(e.file) } : e.body ? { body: e.body } : {}),
      });
    }
  }
}

/**
 * Builds an image from a Dockerfile without running anything: FROM scratch, a stored image or an earlier stage,
 * COPY/ADD from the context, another stage, an image or a URL (one gzip layer each), WORKDIR's directory, and the
 * metadata instructions; RUN fails with its line number. Only the stages the target needs are built. The image is
 * stored as `name`. Same context, Dockerfile, arguments and SOURCE_DATE_EPOCH → same image ID: `created` is
 * SOURCE_DATE_EPOCH (default the epoch, 1970-01-01) and file mtimes are clamped to it when it is set.
 */
export async function buildImage(store: ImageStore, name: string, options: BuildOptions): Promise<BuildResult> {
  const context = resolve(options.context);
  if (!statSync(context, { throwIfNoEntry: false })?.isDirectory())
    throw new CommandError('USAGE', `unable to prepare context: path "${options.context}" not found`);
  const dockerfilePath = options.dockerfile ? resolve(options.dockerfile) : join(context, 'Dockerfile');
  let text: string;
  try {
    text = await readFile(dockerfilePath, 'utf8');
  } catch {
    throw new CommandError('USAGE', `failed to read dockerfile: open ${dockerfilePath}: no such file or directory`);
  }
  const ignorePath = join(context, '.dockerignore');
  const rules = existsSync(ignorePath) ? parseDockerignore(await readFile(ignorePath, 'utf8')) : [];
  const epoch = sourceDateEpoch(options.env);
  const created = new Date((epoch ?? 0) * 1000).toISOString().replace('.000Z', 'Z');
  const parser = await dockerfileParser();
  const instructions = parser.parse(text).getInstructions();
  if (instructions.length === 0) throw new CommandError('DOCKERFILE_INVALID', 'the Dockerfile (or its stdin) is empty');

  // The whole Dockerfile is checked for instructions lade cannot run before any work happens.
  for (const inst of instructions) {
    const k = inst.getKeyword();
    if (k === 'RUN')
      throw new CommandError(
        'UNSUPPORTED',
        `Dockerfile:${lineOf(inst)}: RUN needs a container runtime; lade builds images without one`,
      );
    if (!SUPPORTED.includes(k)) {
      throw new CommandError(
        'UNSUPPORTED',
        `Dockerfile:${lineOf(inst)}: ${k || inst.getInstruction()} is not supported by lade build`,
      );
    }
    if (k === 'ONBUILD') checkTrigger(rawArgs(inst), lineOf(inst));
  }
  const firstFrom = instructions.findIndex((i) => i.getKeyword() === 'FROM');
  if (firstFrom < 0 || !instructions.slice(0, firstFrom).every((i) => i.getKeyword() === 'ARG')) {
    throw new CommandError(
      'DOCKERFILE_INVALID',
      `Dockerfile:${lineOf(instructions[0] as Instruction)}: the first instruction must be FROM (ARG may come before it)`,
    );
  }

  const work = await mkdtemp(join(tmpdir(), 'lade-build-'));
  try {
    const build = new Build(store, options, context, rules, epoch, created, work, instructions, parser);
    const st = await build.run();
    const base = st.fs.base;
    const config: ImageConfig = {
      architecture: st.platform.architecture,
      os: st.platform.os,
      ...(st.platform.variant ? { variant: st.platform.variant } : {}),
      ...(st.state.author ? { author: st.state.author } : {}),
      created,
      config: st.state.config,
      rootfs: {
        type: 'layers',
        diff_ids: [...(base?.config.config.rootfs.diff_ids ?? []), ...st.fs.layers.map((l) => l.diffId)],
      },
      history: st.history,
    };
    const result = await storeImage(store, name, {
      ...(base ? { base } : {}),
      ...(st.fs.baseSource ? { baseSource: st.fs.baseSource } : {}),
      layers: st.fs.layers,
      config,
      docker: st.docker,
    });
    return { id: result.id, manifest: result.manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
