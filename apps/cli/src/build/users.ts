/** User and group names of `--chown` and `USER`, resolved from a stage's own /etc/passwd and /etc/group. */

/** One line of /etc/passwd or /etc/group that matters here: name → numeric ID (and a user's primary group). */
export interface IdEntry {
  readonly name: string;
  readonly id: number;
  /** A user's primary group (passwd's fourth field). */
  readonly gid?: number;
}

/** Parses /etc/passwd (`name:x:uid:gid:…`) or /etc/group (`name:x:gid:…`); malformed lines are skipped. */
export function parseIdFile(text: string, kind: 'passwd' | 'group'): IdEntry[] {
  const out: IdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const id = Number.parseInt(f[2] ?? '', 10);
    if (!f[0] || !/^\d+$/.test(f[2] ?? '')) continue;
    if (kind === 'passwd') {
      if (!/^\d+$/.test(f[3] ?? '')) continue;
      out.push({ name: f[0], id, gid: Number.parseInt(f[3] as string, 10) });
    } else out.push({ name: f[0], id });
  }
  return out;
}

/** Reads a file of the stage (following symlinks inside it), or undefined when it has none. */
export type StageFileReader = (path: string) => Promise<string | undefined>;

/** The numeric owner a `user[:group]` spec names. */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** A name no file of the stage knows. */
export class UnknownIdError extends Error {
  constructor(
    readonly kind: 'user' | 'group',
    readonly idName: string,
  ) {
    super(`no ${kind} "${idName}"`);
  }
}

/**
 * Resolves `user[:group]` as BuildKit's file ops do: numbers are taken as they are (a lone UID is also the GID), a user
 * name gives its UID and primary GID from /etc/passwd, a group name its GID from /etc/group. `strict` throws
 * {@link UnknownIdError} for a name the stage does not know; otherwise such a name maps to 0 (BuildKit's WORKDIR).
 */
export async function resolveOwner(spec: string, read: StageFileReader, strict: boolean): Promise<Owner> {
  const i = spec.indexOf(':');
  const user = i < 0 ? spec : spec.slice(0, i);
  const group = i < 0 ? undefined : spec.slice(i + 1);
  let uid = 0;
  let gid = 0;
  if (/^\d+$/.test(user)) {
    uid = Number.parseInt(user, 10);
    gid = uid;
  } else if (user !== '') {
    const text = await read('/etc/passwd');
    const found = text === undefined ? undefined : parseIdFile(text, 'passwd').find((e) => e.name === user);
    if (found) {
      uid = found.id;
      gid = found.gid ?? 0;
    } else if (strict) throw new UnknownIdError('user', user);
  }
  if (group !== undefined && group !== '') {
    if (/^\d+$/.test(group)) gid = Number.parseInt(group, 10);
    else {
      const text = await read('/etc/group');
      const found = text === undefined ? undefined : parseIdFile(text, 'group').find((e) => e.name === group);
      if (found) gid = found.id;
      else if (strict) throw new UnknownIdError('group', group);
      else gid = 0;
    }
  }
  return { uid, gid };
}
