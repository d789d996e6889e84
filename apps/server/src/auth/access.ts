/** What a request may do to a resource: distribution's token-scope actions. */
export type Action = 'pull' | 'push' | 'delete' | '*';

/** An access a route needs, or one a token grants: `repository:NAME:pull,push` or `registry:catalog:*`. */
export interface Access {
  readonly type: 'repository' | 'registry';
  readonly name: string;
  readonly actions: readonly Action[];
}

/** One rule of an access policy: which accounts may do which actions on which repositories. */
export interface AccessRule {
  /** Account names; `*` means any authenticated account, `anonymous` means requests without credentials. */
  readonly accounts: readonly string[];
  /** Repository name patterns: `*` matches within one path component, `**` across components. `catalog` rules use type registry. */
  readonly repositories: readonly string[];
  readonly actions: readonly Action[];
}

/** A list of rules; an access is granted when any rule allows it. */
export type AccessPolicy = readonly AccessRule[];

/** The default policy: every authenticated account may do everything; anonymous requests nothing. */
export const AUTHENTICATED_FULL_ACCESS: AccessPolicy = Object.freeze([
  { accounts: ['*'], repositories: ['**'], actions: ['*'] },
]);

const patternCache = new Map<string, RegExp>();

function globToRegExp(glob: string): RegExp {
  let re = patternCache.get(glob);
  if (!re) {
    const body = glob
      .split(/(\*\*|\*)/)
      .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`);
    patternCache.set(glob, re);
  }
  return re;
}

/** The actions `policy` allows `account` (undefined = anonymous) on a resource. */
export function allowedActions(
  policy: AccessPolicy,
  account: string | undefined,
  type: Access['type'],
  name: string,
): Set<Action> {
  const out = new Set<Action>();
  for (const rule of policy) {
    const who = rule.accounts.some((a) => (account === undefined ? a === 'anonymous' : a === '*' || a === account));
    if (!who) continue;
    const target =
      type === 'registry'
        ? rule.repositories.includes(name) || rule.repositories.includes('**')
        : rule.repositories.some((p) => globToRegExp(p).test(name));
    if (!target) continue;
    for (const a of rule.actions) out.add(a);
  }
  return out;
}

/** True when `granted` actions cover `action` (`*` covers all). */
export function covers(granted: ReadonlySet<Action> | readonly Action[], action: Action): boolean {
  const has = (a: Action) =>
    Array.isArray(granted) ? (granted as readonly Action[]).includes(a) : (granted as ReadonlySet<Action>).has(a);
  return has('*') || has(action);
}

/** Formats accesses as a scope string: `repository:a:pull,push repository:b:pull`. */
export function formatScope(accesses: readonly Access[]): string {
  return accesses.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
}

/** Parses one or more scope strings (`type:name:actions`, space separated) as a client sends them to /token. */
export function parseScopes(scopes: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    const type = s.slice(0, first);
    if (type !== 'repository' && type !== 'registry') continue;
    const name = s.slice(first + 1, last);
    const actions = s
      .slice(last + 1)
      .split(',')
      .filter((a): a is Action => a === 'pull' || a === 'push' || a === 'delete' || a === '*');
    out.push({ type, name, actions });
  }
  return out;
}
