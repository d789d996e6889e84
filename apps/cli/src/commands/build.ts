import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
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
import { cleanEntryPath, type LoadedImage, loadImage, type TreeEntry, treeFromImage } from '@lade/rootfs';
import type { ImageStore } from '@lade/store';
import type { Instruction } from 'dockerfile-ast';
import { CommandError } from '../errors.js';

// ---- writing images into the store ----

/** A layer blob written aside (compressed), with its digests. */
export interface LayerBlob {
  readonly path: string;
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

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
    out.set(dest, { header: { name: dest, type: 'file', size: st.size, mode, ...common }, body: readFileSync(abs) });
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
          body: await e.bytes(Number.MAX_SAFE_INTEGER),
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

function parseChown(value: string, line: number): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m)
    throw lineError(
      line,
      `--chown=${value}: lade build takes numeric UID[:GID] only (it does not read the image's /etc/passwd)`,
    );
  const uid = Number.parseInt(m[1] as string, 10);
  return { uid, gid: m[2] !== undefined ? Number.parseInt(m[2], 10) : uid };
}

// ---- the build ----

/** Options of {@link buildImage}. */
export interface BuildOptions {
  readonly context: string;
  /** Path of the Dockerfile (default CONTEXT/Dockerfile). */
  readonly dockerfile?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  readonly platform?: Platform;
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

/**
 * Builds an image from a Dockerfile without running anything: FROM scratch or a stored image, COPY/ADD from the
 * context (one gzip layer each), and the metadata instructions; RUN fails with its line number. The image is stored
 * as `name`. Same context, Dockerfile, arguments and SOURCE_DATE_EPOCH → same image ID: `created` is
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
  const instructions = (await dockerfileParser()).parse(text).getInstructions();
  if (instructions.length === 0) throw new CommandError('DOCKERFILE_INVALID', 'the Dockerfile (or its stdin) is empty');

  // The whole Dockerfile is checked for instructions lade cannot run before any work happens.
  for (const inst of instructions) {
    const k = inst.getKeyword();
    if (k === 'RUN')
      throw new CommandError(
        'UNSUPPORTED',
        `Dockerfile:${lineOf(inst)}: RUN needs a container runtime; lade builds images without one`,
      );
    if (
      ![
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
      ].includes(k)
    ) {
      throw new CommandError(
        'UNSUPPORTED',
        `Dockerfile:${lineOf(inst)}: ${k || inst.getInstruction()} is not supported by lade build`,
      );
    }
  }
  if (
    instructions[0]?.getKeyword() !== 'FROM' &&
    !instructions
      .slice(
        0,
        instructions.findIndex((i) => i.getKeyword() === 'FROM'),
      )
      .every((i) => i.getKeyword() === 'ARG')
  ) {
    throw new CommandError(
      'DOCKERFILE_INVALID',
      `Dockerfile:${lineOf(instructions[0] as Instruction)}: the first instruction must be FROM (ARG may come before it)`,
    );
  }

  const buildArgs = options.buildArgs ?? new Map<string, string>();
  const globalArgs = new Map<string, string>();
  const work = await mkdtemp(join(tmpdir(), 'lade-build-'));
  try {
    let base: LoadedImage | undefined;
    let baseSource: ImageSource | undefined;
    let baseTree: Map<string, TreeEntry> | undefined;
    let state: ConfigState = { config: {}, cmdSet: false };
    let history: HistoryEntry[] = [];
    let layers: LayerBlob[] = [];
    let platform: Platform = options.platform ?? hostPlatform();
    let stageArgs = new Map<string, string>();
    let docker = false;
    let seenFrom = false;
    let step = 0;
    const total = instructions.length;
    const vars = () => new Map([...globalArgs, ...stageArgs, ...envMap(state.config)]);
    for (const inst of instructions) {
      const line = lineOf(inst);
      const keyword = inst.getKeyword();
      const raw = rawArgs(inst);
      step++;
      await options.onStep?.(`Step ${step}/${total} : ${keyword} ${raw}`);
      if (keyword === 'ARG') {
        const prop = (
          inst as unknown as { getProperty(): { getName(): string; getValue(): string | null } | null }
        ).getProperty();
        if (!prop) throw lineError(line, 'ARG needs a name');
        const argName = prop.getName();
        const fromDefault = prop.getValue();
        const value =
          buildArgs.get(argName) ??
          (fromDefault !== null ? expandVariables(fromDefault, vars()) : globalArgs.get(argName));
        const target = seenFrom ? stageArgs : globalArgs;
        if (value !== undefined) target.set(argName, value);
        else if (target === stageArgs && globalArgs.has(argName))
          stageArgs.set(argName, globalArgs.get(argName) as string);
        if (target === stageArgs)
          history.push({
            created,
            created_by: `ARG ${argName}${value !== undefined ? `=${value}` : ''}`,
            comment: 'buildkit.dockerfile.v0',
            empty_layer: true,
          });
        continue;
      }
      if (keyword === 'FROM') {
        const words = shellWords(expandVariables(raw, globalArgs)).filter((w) => !w.startsWith('--'));
        const from = words[0];
        const platformFlag = flagsOf(inst).get('platform');
        if (platformFlag) platform = parsePlatform(expandVariables(platformFlag, globalArgs));
        if (!from) throw lineError(line, 'FROM needs an image name');
        seenFrom = true;
        stageArgs = new Map();
        history = [];
        layers = [];
        baseTree = undefined;
        if (from === 'scratch') {
          base = undefined;
          baseSource = undefined;
          docker = false;
          state = { config: { Env: [DEFAULT_PATH] }, cmdSet: false };
        } else {
          baseSource = store.source(from);
          try {
            base = await loadImage(baseSource, { platform });
          } catch (e) {
            const code = (e as { code?: string }).code;
            if (code === 'IMAGE_UNKNOWN' || code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN') {
              throw new CommandError(
                'IMAGE_UNKNOWN',
                `Dockerfile:${line}: base image "${from}" is not in the local store; pull it first (lade pull ${from})`,
                { cause: e },
              );
            }
            throw e;
          }
          docker = base.manifest.mediaType === MediaType.DOCKER_MANIFEST;
          const bc = base.config.config;
          state = { config: { ...(bc.config ?? {}) }, cmdSet: false, ...(bc.author ? { author: bc.author } : {}) };
          if (!state.config.Env?.some((e) => e.startsWith('PATH=')))
            state.config.Env = [DEFAULT_PATH, ...(state.config.Env ?? [])];
          history = [...(bc.history ?? [])];
          platform = { architecture: bc.architecture, os: bc.os, ...(bc.variant ? { variant: bc.variant } : {}) };
        }
        continue;
      }
      if (keyword === 'COPY' || keyword === 'ADD') {
        const flags = flagsOf(inst);
        if (flags.has('from'))
          throw new CommandError(
            'UNSUPPORTED',
            `Dockerfile:${line}: ${keyword} --from is not supported by lade build (multi-stage copies need the earlier stage's file system)`,
          );
        const args = (jsonForm(raw) ?? shellWords(raw.replace(/(^|\s)--[a-z-]+(=\S*)?/g, ' '))).map((a) =>
          expandVariables(a, vars()),
        );
        if (args.length < 2) throw lineError(line, `${keyword} needs at least one source and a destination`);
        const destRaw = args[args.length - 1] as string;
        const sources = args.slice(0, -1);
        if (keyword === 'ADD' && sources.some((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s))) {
          throw new CommandError(
            'UNSUPPORTED',
            `Dockerfile:${line}: ADD from a URL is not supported by lade build; download the file into the context and ADD it`,
          );
        }
        const owner = flags.has('chown')
          ? parseChown(expandVariables(flags.get('chown') as string, vars()), line)
          : { uid: 0, gid: 0 };
        let chmod: number | undefined;
        if (flags.has('chmod')) {
          const v = flags.get('chmod') as string;
          if (!/^[0-7]{3,4}$/.test(v)) throw lineError(line, `--chmod=${v}: give an octal mode such as 755`);
          chmod = Number.parseInt(v, 8);
        }
        const o: CopyOptions = {
          ...owner,
          ...(chmod !== undefined ? { chmod } : {}),
          ...(epoch !== undefined ? { epoch } : {}),
        };
        const destAbs = posix.resolve(state.config.WorkingDir || '/', destRaw);
        const dest = destAbs.slice(1);
        const matched = sources.flatMap((s) => matchSources(context, s, rules, line));
        const destIsDir = destRaw.endsWith('/') || matched.length > 1 || destRaw === '.' || destRaw === '/';
        const out = new Map<string, TarWriteEntry>();
        for (const m of matched) {
          const st = lstatSync(m.abs);
          if (st.isDirectory()) {
            entriesFor(m.abs, m.rel, dest, rules, { ...o }, out);
          } else if (keyword === 'ADD' && st.isFile() && (await isTarArchive(m.abs))) {
            await extractEntries(m.abs, dest, out, o);
          } else {
            const name = m.rel.split('/').pop() as string;
            const target = destIsDir ? (dest === '' ? name : `${dest}/${name}`) : dest;
            entriesFor(m.abs, m.rel, target, rules, o, out);
          }
        }
        // Parent directories the base lacks are made (0755, root) so the layer stands alone.
        if (base !== undefined && baseTree === undefined && baseSource !== undefined) {
          baseTree = new Map((await treeFromImage(baseSource, { image: base, hash: false })).map((e) => [e.path, e]));
        }
        const made = new Set<string>();
        for (const path of [...out.keys()]) {
          const parts = path.split('/');
          for (let i = 1; i < parts.length; i++) {
            const p = parts.slice(0, i).join('/');
            if (out.has(p) || made.has(p) || baseTree?.has(p)) continue;
            made.add(p);
            out.set(p, { header: { name: `${p}/`, type: 'directory', mode: 0o755, mtime: epoch ?? 0 } });
          }
        }
        // A path the base already has as a directory (or a symlink to one) keeps it: no entry replaces it.
        for (const [path, e] of out) if (e.header.type === 'directory' && baseTree?.has(path)) out.delete(path);
        const sorted = [...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, e]) => e);
        const blob = await writeLayerBlob(writeTar(sorted, { format: 'pax' }), work, layerMediaType(docker));
        layers.push(blob);
        const flagText = [...flags].map(([k, v]) => `--${k}=${v} `).join('');
        history.push({
          created,
          created_by: `${keyword} ${flagText}${raw} # buildkit`,
          comment: 'buildkit.dockerfile.v0',
        });
        continue;
      }
      const createdBy = applyMetadata(state, inst, vars(), line);
      if (createdBy === undefined)
        throw new CommandError('UNSUPPORTED', `Dockerfile:${line}: ${keyword} is not supported by lade build`);
      history.push({ created, created_by: createdBy, comment: 'buildkit.dockerfile.v0', empty_layer: true });
    }

    const bc = base?.config.config;
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      ...(state.author ? { author: state.author } : {}),
      created,
      config: state.config,
      rootfs: { type: 'layers', diff_ids: [...(bc?.rootfs.diff_ids ?? []), ...layers.map((l) => l.diffId)] },
      history,
    };
    const result = await storeImage(store, name, {
      ...(base ? { base } : {}),
      ...(baseSource ? { baseSource } : {}),
      layers,
      config,
      docker,
    });
    return { id: result.id, manifest: result.manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
