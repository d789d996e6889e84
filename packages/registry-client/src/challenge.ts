/** One challenge of a `WWW-Authenticate` header: its scheme (lower-cased) and parameters (names lower-cased). */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const tokenChar = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` header (RFC 9110 §11.6.1) into its challenges: several schemes in one header,
 * quoted values holding commas and escaped quotes, `token68` credentials.
 *
 * @example parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"')
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && tokenChar.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    // header[i] is the opening quote
    i++;
    let v = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      v += header[i];
      i++;
    }
    i++; // closing quote (or end)
    return v;
  };
  // Looks ahead: is the text at i `token BWS =` (a parameter) rather than a new scheme?
  const atParam = (): boolean => {
    const save = i;
    const t = readToken();
    skipSpace();
    const isParam = t.length > 0 && header[i] === '=' && header[i + 1] !== '=';
    i = save;
    return isParam;
  };

  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const scheme = readToken();
    if (!scheme) {
      i++; // skip garbage
      continue;
    }
    const challenge = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    out.push(challenge);
    skipSpace();
    // token68 (e.g. `Negotiate abc==`): a token not followed by `=value`.
    if (i < n && header[i] !== ',' && !atParam()) {
      const start = i;
      while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
      challenge.params[''] = header.slice(start, i);
      continue;
    }
    // auth-params, comma separated, until the next scheme.
    for (;;) {
      skipSpace();
      while (i < n && header[i] === ',') {
        i++;
        skipSpace();
      }
      if (i >= n || !atParam()) break;
      const name = readToken().toLowerCase();
      skipSpace();
      i++; // '='
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readToken();
      challenge.params[name] = value;
      skipSpace();
      if (i < n && header[i] !== ',') break;
    }
  }
  return out;
}
