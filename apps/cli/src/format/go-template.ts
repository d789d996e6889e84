/**
 * docker's `--format`: a Go `text/template` subset with docker's functions (`json`, `split`, `join`, `title`,
 * `lower`, `upper`, `pad`, `truncate`) and its `table` / `json` format keys, rendered the way docker/cli's
 * formatter does (header row from a header map, columns aligned like its tabwriter: minwidth 10, padding 3).
 *
 * Supported template syntax: text, `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{$}}`, variables (`$x := …`, `$x = …`),
 * pipelines (`{{.X | upper}}`), parenthesised calls, `{{if}}/{{else if}}/{{else}}/{{end}}`, `{{range}}` (with
 * `$i, $v :=`, `{{else}}`, `{{break}}`, `{{continue}}`), `{{with}}`, comments, `{{-`/`-}}` trimming, and the
 * builtins `print`, `printf`, `println`, `len`, `index`, `not`, `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`.
 * Not supported: `define`, `template`, `block`, `slice`, `call`, `html`, `js`, `urlquery`.
 */
import { LadeError } from '@lade/digest';

/** A `--format` template that does not parse or fails while rendering; messages read like docker's. */
export class TemplateError extends LadeError {
  constructor(message: string) {
    super('FORMAT_INVALID', message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Lexing

type Token =
  | { kind: 'field'; chain: string[]; pos: number }
  | { kind: 'dot'; pos: number }
  | { kind: 'var'; name: string; chain: string[]; pos: number }
  | { kind: 'ident'; name: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'punct'; value: '(' | ')' | '|' | ':=' | '=' | ','; pos: number }
  | { kind: 'chain'; chain: string[]; pos: number };

interface Segment {
  readonly kind: 'text' | 'action';
  text: string;
  readonly pos: number;
}

class ParseFailure extends Error {}

function lineOf(source: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

const SPACE = /[ \t\r\n]/;

/** Split the source into text and action segments, applying `{{-` / `-}}` trimming and dropping comments. */
function segment(source: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = open < 0 ? source.slice(i) : source.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text !== '') out.push({ kind: 'text', text, pos: i });
      break;
    }
    let start = open + 2;
    if (source[start] === '-' && SPACE.test(source[start + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    if (text !== '') out.push({ kind: 'text', text, pos: i });
    const close = findActionEnd(source, start);
    if (close < 0) throw new ParseFailure(`template: :${lineOf(source, open)}: unclosed action`);
    let end = close;
    if (source[close - 1] === '-' && SPACE.test(source[close - 2] ?? '') && close - 2 >= start) {
      trimNext = true;
      end = close - 2;
    }
    const body = source.slice(start, end);
    const trimmed = body.trim();
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/')) throw new ParseFailure(`template: :${lineOf(source, open)}: unclosed comment`);
    } else {
      out.push({ kind: 'action', text: body, pos: start });
    }
    i = close + 2;
  }
  return out;
}

/** Index of the `}}` closing an action that starts at `from`, skipping quoted strings and comments. */
function findActionEnd(source: string, from: number): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (c === '"' || c === '`' || c === "'") {
      const quote = c;
      i++;
      while (i < source.length && source[i] !== quote) {
        if (quote !== '`' && source[i] === '\\') i++;
        if (quote !== '`' && source[i] === '\n') return -1;
        i++;
      }
      i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const endComment = source.indexOf('*/', i + 2);
      if (endComment < 0) return -1;
      i = endComment + 2;
      continue;
    }
    if (c === '}' && source[i + 1] === '}') return i;
    i++;
  }
  return -1;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

function lexAction(source: string, seg: Segment): Token[] {
  const text = seg.text;
  const tokens: Token[] = [];
  const fail = (msg: string): never => {
    throw new ParseFailure(`template: :${lineOf(source, seg.pos)}: ${msg}`);
  };
  let i = 0;
  const readChain = (): string[] => {
    const chain: string[] = [];
    while (text[i] === '.' && IDENT_START.test(text[i + 1] ?? '')) {
      i++;
      const s = i;
      while (i < text.length && IDENT_PART.test(text[i] ?? '')) i++;
      chain.push(text.slice(s, i));
    }
    return chain;
  };
  while (i < text.length) {
    const c = text[i] ?? '';
    const pos = seg.pos + i;
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    if (c === '.') {
      if (IDENT_START.test(text[i + 1] ?? '')) {
        const prev = tokens[tokens.length - 1];
        const chain = readChain();
        // `.Field` straight after `)` applies to the parenthesised value.
        if (prev?.kind === 'punct' && prev.value === ')' && text[pos - seg.pos - 1] === ')') {
          tokens.push({ kind: 'chain', chain, pos });
        } else {
          tokens.push({ kind: 'field', chain, pos });
        }
        continue;
      }
      if (/[0-9]/.test(text[i + 1] ?? '')) {
        tokens.push(readNumber());
        continue;
      }
      tokens.push({ kind: 'dot', pos });
      i++;
      continue;
    }
    if (c === '$') {
      i++;
      const s = i;
      while (i < text.length && IDENT_PART.test(text[i] ?? '')) i++;
      const name = `$${text.slice(s, i)}`;
      tokens.push({ kind: 'var', name, chain: readChain(), pos });
      continue;
    }
    if (c === '"' || c === '`') {
      tokens.push({ kind: 'string', value: readString(c), pos });
      continue;
    }
    if (c === "'") {
      const s = readString("'");
      const cp = s.codePointAt(0);
      if (cp === undefined || [...s].length !== 1) fail('malformed character constant');
      tokens.push({ kind: 'number', value: cp ?? 0, pos });
      continue;
    }
    if (/[0-9+-]/.test(c)) {
      if ((c === '+' || c === '-') && !/[0-9.]/.test(text[i + 1] ?? '')) fail(`bad character U+${hex4(c)} '${c}'`);
      tokens.push(readNumber());
      continue;
    }
    if (IDENT_START.test(c)) {
      const s = i;
      while (i < text.length && IDENT_PART.test(text[i] ?? '')) i++;
      tokens.push({ kind: 'ident', name: text.slice(s, i), pos });
      continue;
    }
    if (c === ':' && text[i + 1] === '=') {
      tokens.push({ kind: 'punct', value: ':=', pos });
      i += 2;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === '=' || c === ',') {
      tokens.push({ kind: 'punct', value: c, pos });
      i++;
      continue;
    }
    fail(`bad character U+${hex4(c)} '${c}'`);
  }
  return tokens;

  function readString(quote: string): string {
    i++;
    let out = '';
    while (i < text.length && text[i] !== quote) {
      const ch = text[i] ?? '';
      if (quote !== '`' && ch === '\\') {
        const esc = text[i + 1] ?? '';
        const map: Record<string, string> = {
          n: '\n',
          t: '\t',
          r: '\r',
          '\\': '\\',
          '"': '"',
          "'": "'",
          a: '\x07',
          b: '\b',
          f: '\f',
          v: '\v',
          '0': '\0',
        };
        if (esc === 'x' || esc === 'u' || esc === 'U') {
          const len = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
          const hex = text.slice(i + 2, i + 2 + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail('invalid syntax in quoted string');
          out += String.fromCodePoint(Number.parseInt(hex, 16));
          i += 2 + len;
          continue;
        }
        const mapped = map[esc];
        if (mapped === undefined) fail('invalid syntax in quoted string');
        out += mapped;
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    if (i >= text.length) fail(quote === '`' ? 'unterminated raw quoted string' : 'unterminated quoted string');
    i++;
    return out;
  }

  function readNumber(): Token {
    const pos = seg.pos + i;
    const m =
      /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)/.exec(
        text.slice(i),
      );
    const raw = m?.[0] ?? '';
    if (raw === '' || raw === '+' || raw === '-' || IDENT_PART.test(text[i + raw.length] ?? '')) {
      fail(`bad number syntax: "${text.slice(i).split(/[ \t\r\n)|]/, 1)[0]}"`);
    }
    i += raw.length;
    const clean = raw.replace(/_/g, '');
    const negative = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    let value: number;
    if (/^0[xX]/.test(body)) value = Number.parseInt(body.slice(2), 16);
    else if (/^0[oO]/.test(body)) value = Number.parseInt(body.slice(2), 8);
    else if (/^0[bB]/.test(body)) value = Number.parseInt(body.slice(2), 2);
    else value = Number(body);
    if (Number.isNaN(value)) fail(`bad number syntax: "${raw}"`);
    return { kind: 'number', value: negative ? -value : value, pos };
  }
}

function hex4(c: string): string {
  return (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

type Operand =
  | { kind: 'field'; chain: string[]; pos: number }
  | { kind: 'dot'; pos: number }
  | { kind: 'var'; name: string; chain: string[]; pos: number }
  | { kind: 'func'; name: string; pos: number }
  | { kind: 'literal'; value: unknown; pos: number }
  | { kind: 'pipe'; pipeline: Pipeline; chain: string[]; pos: number };

interface Command {
  readonly args: Operand[];
  readonly pos: number;
}

interface Pipeline {
  readonly decl: string[];
  readonly assign: boolean;
  readonly cmds: Command[];
  readonly pos: number;
  readonly text: string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined }
  | { kind: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined }
  | { kind: 'break' | 'continue'; pos: number };

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'break',
  'continue',
  'define',
  'template',
  'block',
  'nil',
  'true',
  'false',
]);

class Parser {
  private index = 0;
  private readonly vars: string[][] = [['$']];
  private rangeDepth = 0;

  constructor(
    private readonly source: string,
    private readonly segments: Segment[],
    private readonly funcs: ReadonlySet<string>,
  ) {}

  parse(): Node[] {
    const { list, end } = this.parseList();
    if (end !== undefined) this.fail(end.seg, `unexpected {{${end.word}}}`);
    return list;
  }

  private fail(seg: Segment | undefined, msg: string): never {
    const line = seg === undefined ? lineOf(this.source, this.source.length) : lineOf(this.source, seg.pos);
    throw new ParseFailure(`template: :${line}: ${msg}`);
  }

  /** Parse nodes until `{{end}}`/`{{else …}}` (returned, not consumed into the list) or EOF. */
  private parseList(): { list: Node[]; end: { word: 'end' | 'else'; seg: Segment; rest: Token[] } | undefined } {
    const list: Node[] = [];
    while (this.index < this.segments.length) {
      const seg = this.segments[this.index++] as Segment;
      if (seg.kind === 'text') {
        list.push({ kind: 'text', text: seg.text });
        continue;
      }
      const tokens = lexAction(this.source, seg);
      const first = tokens[0];
      if (first === undefined) this.fail(seg, 'missing value for command');
      if (first.kind === 'ident' && (first.name === 'end' || first.name === 'else')) {
        if (first.name === 'end' && tokens.length > 1) this.fail(seg, 'unexpected token in end');
        return { list, end: { word: first.name, seg, rest: tokens.slice(1) } };
      }
      if (first.kind === 'ident' && (first.name === 'if' || first.name === 'with' || first.name === 'range')) {
        list.push(this.parseControl(first.name, seg, tokens.slice(1)));
        continue;
      }
      if (first.kind === 'ident' && (first.name === 'break' || first.name === 'continue')) {
        if (tokens.length > 1) this.fail(seg, `unexpected token in {{${first.name}}}`);
        if (this.rangeDepth === 0) this.fail(seg, `{{${first.name}}} outside {{range}}`);
        list.push({ kind: first.name, pos: seg.pos });
        continue;
      }
      if (first.kind === 'ident' && (first.name === 'define' || first.name === 'template' || first.name === 'block')) {
        this.fail(seg, `{{${first.name}}} is not supported in --format templates`);
      }
      list.push({ kind: 'action', pipe: this.parsePipeline(seg, tokens, 'command') });
    }
    return { list, end: undefined };
  }

  private parseControl(word: 'if' | 'with' | 'range', seg: Segment, tokens: Token[]): Node {
    this.vars.push([]);
    const pipe = this.parsePipeline(seg, tokens, word);
    if (word === 'range') this.rangeDepth++;
    const body = this.parseList();
    if (word === 'range') this.rangeDepth--;
    if (body.end === undefined) this.fail(undefined, 'unexpected EOF');
    let elseList: Node[] | undefined;
    const end = body.end;
    if (end.word === 'else') {
      const rest = end.rest;
      const chained = rest[0];
      if (chained !== undefined) {
        // `{{else if …}}` / `{{else with …}}`: a nested control that shares our {{end}}.
        if (chained.kind !== 'ident' || (chained.name !== 'if' && chained.name !== 'with')) {
          this.fail(end.seg, 'unexpected token in else');
        }
        elseList = [this.parseControl(chained.name, end.seg, rest.slice(1))];
        this.vars.pop();
        return { kind: word, pipe, list: body.list, elseList } as Node;
      }
      const after = this.parseList();
      if (after.end === undefined) this.fail(undefined, 'unexpected EOF');
      if (after.end.word !== 'end') this.fail(after.end.seg, 'expected end; found {{else}}');
      elseList = after.list;
    }
    this.vars.pop();
    return { kind: word, pipe, list: body.list, elseList } as Node;
  }

  private parsePipeline(seg: Segment, tokens: Token[], context: string): Pipeline {
    let i = 0;
    const decl: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
    const t0 = tokens[0];
    if (t0?.kind === 'var' && t0.chain.length === 0) {
      const t1 = tokens[1];
      if (t1?.kind === 'punct' && (t1.value === ':=' || t1.value === '=')) {
        decl.push(t0.name);
        assign = t1.value === '=';
        i = 2;
      } else if (t1?.kind === 'punct' && t1.value === ',' && context === 'range') {
        const t2 = tokens[2];
        const t3 = tokens[3];
        if (
          t2?.kind !== 'var' ||
          t2.chain.length > 0 ||
          t3?.kind !== 'punct' ||
          (t3.value !== ':=' && t3.value !== '=')
        ) {
          this.fail(seg, 'range can only initialize variables');
        }
        decl.push(t0.name, (t2 as { name: string }).name);
        assign = (t3 as { value: string }).value === '=';
        i = 4;
      }
    }
    if (assign) {
      for (const v of decl) if (!this.isDeclared(v)) this.fail(seg, `undefined variable "${v}"`);
    } else {
      for (const v of decl) this.vars[this.vars.length - 1]?.push(v);
    }
    const { cmds, next } = this.parseCommands(seg, tokens, i, false);
    if (next !== tokens.length) this.fail(seg, `unexpected "${tokenText(tokens[next])}" in ${context}`);
    if (cmds.length === 0) this.fail(seg, `missing value for ${context}`);
    return { decl, assign, cmds, pos: seg.pos, text: seg.text.trim() };
  }

  private isDeclared(name: string): boolean {
    return this.vars.some((scope) => scope.includes(name));
  }

  private parseCommands(
    seg: Segment,
    tokens: Token[],
    start: number,
    inParen: boolean,
  ): { cmds: Command[]; next: number } {
    const cmds: Command[] = [];
    let i = start;
    let args: Operand[] = [];
    let cmdPos = tokens[i]?.pos ?? seg.pos;
    while (i < tokens.length) {
      const t = tokens[i] as Token;
      if (t.kind === 'punct' && t.value === ')') {
        if (!inParen) this.fail(seg, 'unexpected right paren');
        break;
      }
      if (t.kind === 'punct' && t.value === '|') {
        if (args.length === 0) this.fail(seg, 'missing value for command');
        cmds.push({ args, pos: cmdPos });
        args = [];
        i++;
        cmdPos = tokens[i]?.pos ?? seg.pos;
        continue;
      }
      if (t.kind === 'punct' && t.value === '(') {
        const inner = this.parseCommands(seg, tokens, i + 1, true);
        if (tokens[inner.next]?.kind !== 'punct' || (tokens[inner.next] as { value: string }).value !== ')') {
          this.fail(seg, 'unclosed left paren');
        }
        if (inner.cmds.length === 0) this.fail(seg, 'missing value for parenthesized pipeline');
        i = inner.next + 1;
        let chain: string[] = [];
        const maybeChain = tokens[i];
        if (maybeChain?.kind === 'chain') {
          chain = maybeChain.chain;
          i++;
        }
        args.push({
          kind: 'pipe',
          pipeline: { decl: [], assign: false, cmds: inner.cmds, pos: t.pos, text: '' },
          chain,
          pos: t.pos,
        });
        continue;
      }
      args.push(this.operand(seg, t));
      i++;
    }
    if (args.length > 0) cmds.push({ args, pos: cmdPos });
    else if (cmds.length > 0) this.fail(seg, 'missing value for command');
    return { cmds, next: i };
  }

  private operand(seg: Segment, t: Token): Operand {
    switch (t.kind) {
      case 'field':
        return { kind: 'field', chain: t.chain, pos: t.pos };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'var':
        if (!this.isDeclared(t.name)) this.fail(seg, `undefined variable "${t.name}"`);
        return { kind: 'var', name: t.name, chain: t.chain, pos: t.pos };
      case 'string':
        return { kind: 'literal', value: t.value, pos: t.pos };
      case 'number':
        return { kind: 'literal', value: t.value, pos: t.pos };
      case 'ident':
        if (t.name === 'true' || t.name === 'false') return { kind: 'literal', value: t.name === 'true', pos: t.pos };
        if (t.name === 'nil') return { kind: 'literal', value: null, pos: t.pos };
        if (KEYWORDS.has(t.name)) this.fail(seg, `unexpected <${t.name}> in command`);
        if (!this.funcs.has(t.name)) this.fail(seg, `function "${t.name}" not defined`);
        return { kind: 'func', name: t.name, pos: t.pos };
      default:
        return this.fail(seg, `unexpected "${tokenText(t)}" in operand`);
    }
  }
}

function tokenText(t: Token | undefined): string {
  if (t === undefined) return 'EOF';
  switch (t.kind) {
    case 'punct':
      return t.value;
    case 'ident':
      return t.name;
    case 'field':
    case 'chain':
      return `.${t.chain.join('.')}`;
    case 'dot':
      return '.';
    case 'var':
      return t.name;
    case 'string':
      return JSON.stringify(t.value);
    case 'number':
      return String(t.value);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Values

/** A header cell for a field the header map does not name: prints its derived name, counts as false in `if`. */
class HeaderGuess {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

class ExecFailure extends Error {}
class BreakSignal {}
class ContinueSignal {}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeName(v: unknown): string {
  if (v === undefined || v === null) return 'interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Map || isPlainObject(v)) return 'map[string]interface {}';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Go's truth: false, 0, nil, empty string, empty array/map are false. */
function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || Number.isNaN(v)) return false;
  if (v instanceof HeaderGuess) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's `fmt.Print` of a value (`%v`). */
export function printValue(v: unknown, nested = false): string {
  if (v === undefined) return nested ? '<nil>' : '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof HeaderGuess) return v.text;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `[${v.map((x) => printValue(x, true)).join(' ')}]`;
  if (v instanceof Map) {
    const entries = [...v.entries()].sort(([a], [b]) => compareKeys(a, b));
    return `map[${entries.map(([k, x]) => `${printValue(k, true)}:${printValue(x, true)}`).join(' ')}]`;
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${printValue(v[k], true)}`).join(' ')}]`;
  }
  if (typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function') {
    const s = String(v);
    if (s !== '[object Object]') return s;
    const keys = Object.keys(v);
    return `{${keys.map((k) => printValue((v as Record<string, unknown>)[k], true)).join(' ')}}`;
  }
  return String(v);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Integers print as Go ints; other numbers as Go's `%v` of a float64 (shortest, exponent at >= 21 or < -4). */
function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  const abs = Math.abs(n);
  const exp = Math.floor(Math.log10(abs));
  if (exp < -4 || exp >= 21) {
    const [m, e] = n.toExponential().split('e');
    const ev = Number(e);
    return `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's `encoding/json` with HTML escaping off, as docker's `json` function: keys in object order. */
export function toGoJson(v: unknown): string {
  const s = JSON.stringify(v, (_key, value: unknown) => {
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Set) return [...value];
    if (value instanceof HeaderGuess) return value.text;
    if (typeof value === 'bigint') return Number(value);
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      !isPlainObject(value) &&
      !(value instanceof Date)
    ) {
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
      return readStruct(value);
    }
    return value;
  });
  // Go escapes the two JavaScript line terminators even without HTML escaping.
  return (s ?? 'null').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** docker's `MarshalJSON` of a formatter context: its fields as a map (sorted keys), HTML-escaped like `json.Marshal`. */
export function toContextJson(row: unknown): string {
  const fields = typeof row === 'object' && row !== null && !isPlainObject(row) ? readStruct(row) : row;
  const sorted =
    typeof fields === 'object' && fields !== null && !Array.isArray(fields)
      ? Object.fromEntries(
          Object.keys(fields)
            .sort()
            .map((k) => [k, (fields as Record<string, unknown>)[k]]),
        )
      : fields;
  return toGoJson(sorted).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/** A class instance's fields and zero-argument getters/methods, the way docker's contexts marshal their methods. */
function readStruct(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Like Go structs, only exported (capitalised) fields are marshalled.
  for (const k of Object.keys(value)) if (/^[A-Z]/.test(k)) out[k] = (value as Record<string, unknown>)[k];
  let proto = Object.getPrototypeOf(value) as object | null;
  while (proto !== null && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name in out || !/^[A-Z]/.test(name)) continue;
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (desc?.get) out[name] = desc.get.call(value);
      else if (typeof desc?.value === 'function' && desc.value.length === 0) out[name] = desc.value.call(value);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Functions

type TemplateFunction = (...args: unknown[]) => unknown;

function asString(v: unknown, fn: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof HeaderGuess) return v.text;
  if (v === undefined || v === null) throw new ExecFailure(`error calling ${fn}: invalid value; expected string`);
  if (typeof v === 'object') throw new ExecFailure(`wrong type for value; expected string; got ${typeName(v)}`);
  return printValue(v);
}

function asInt(v: unknown, fn: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new ExecFailure(`wrong type for value; expected int; got ${typeName(v)} (in ${fn})`);
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Go's strings.Title: upper-case each letter that follows a separator (anything but letters, digits, `_`). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = isSeparator(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function isSeparator(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  if (c <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
  if (/[\p{L}\p{N}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

function compareArgs(a: unknown, b: unknown, fn: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new ExecFailure(`error calling ${fn}: incompatible types for comparison`);
}

function basicEqual(a: unknown, b: unknown): boolean {
  if (a instanceof HeaderGuess) a = a.text;
  if (b instanceof HeaderGuess) b = b.text;
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== tb) throw new ExecFailure('error calling eq: incompatible types for comparison');
  if (ta === 'object') throw new ExecFailure('error calling eq: non-comparable type');
  return a === b;
}

/** Go's `fmt.Sprint`: spaces between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    const prev = args[i - 1];
    if (i > 0 && typeof a !== 'string' && typeof prev !== 'string') out += ' ';
    out += printValue(a);
  });
  return out;
}

/** Go's `fmt.Sprintf` for the common verbs: %v %s %d %q %t %x %X %f %g %e %%, with flags, width and precision. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let argIndex = 0;
  return format.replace(
    /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
    (whole, flags: string, width?: string, prec?: string, verb?: string) => {
      if (verb === '%') return '%';
      if (argIndex >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[argIndex++];
      const p = prec === undefined ? undefined : Number(prec);
      let s: string;
      switch (verb) {
        case 'v':
        case 's':
          s = typeof arg === 'string' ? arg : printValue(arg);
          if (p !== undefined) s = [...s].slice(0, p).join('');
          break;
        case 'q':
          s = JSON.stringify(typeof arg === 'string' ? arg : printValue(arg));
          break;
        case 'd':
          s =
            typeof arg === 'number' && Number.isInteger(arg) ? String(arg) : `%!d(${typeName(arg)}=${printValue(arg)})`;
          if (flags.includes('+') && typeof arg === 'number' && arg >= 0) s = `+${s}`;
          break;
        case 't':
          s = typeof arg === 'boolean' ? String(arg) : `%!t(${typeName(arg)}=${printValue(arg)})`;
          break;
        case 'x':
        case 'X': {
          const h =
            typeof arg === 'number'
              ? Math.trunc(arg).toString(16)
              : [...new TextEncoder().encode(typeof arg === 'string' ? arg : printValue(arg))]
                  .map((b) => b.toString(16).padStart(2, '0'))
                  .join('');
          s = verb === 'X' ? h.toUpperCase() : h;
          break;
        }
        case 'f':
        case 'F':
          s = typeof arg === 'number' ? arg.toFixed(p ?? 6) : `%!f(${typeName(arg)}=${printValue(arg)})`;
          break;
        case 'e':
          s =
            typeof arg === 'number'
              ? goExponent(arg.toExponential(p ?? 6))
              : `%!e(${typeName(arg)}=${printValue(arg)})`;
          break;
        case 'g':
          s =
            typeof arg === 'number'
              ? p === undefined
                ? formatNumber(arg)
                : goExponent(Number(arg.toPrecision(p)).toString())
              : `%!g(${typeName(arg)}=${printValue(arg)})`;
          break;
        default:
          s = `%!${verb}(${typeName(arg)}=${printValue(arg)})`;
      }
      if (width !== undefined) {
        const w = Number(width);
        const len = [...s].length;
        if (len < w) {
          if (flags.includes('-')) s = s + ' '.repeat(w - len);
          else if (flags.includes('0') && /[dfeEgxX]/.test(verb ?? ''))
            s = s.startsWith('-') ? `-${s.slice(1).padStart(w - 1, '0')}` : s.padStart(w, '0');
          else s = ' '.repeat(w - len) + s;
        }
      }
      void whole;
      return s;
    },
  );
}

function goExponent(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function indexInto(item: unknown, key: unknown): unknown {
  // A missing map (JSON null) indexes like Go's nil map[string]string: the zero value.
  if (item === undefined || item === null) return typeof key === 'string' ? '' : undefined;
  if (Array.isArray(item) || typeof item === 'string') {
    if (typeof key !== 'number' || !Number.isInteger(key))
      throw new ExecFailure(`error calling index: cannot index slice/array with type ${typeName(key)}`);
    const seq = typeof item === 'string' ? new TextEncoder().encode(item) : item;
    if (key < 0 || key >= seq.length) throw new ExecFailure(`error calling index: index out of range: ${key}`);
    return seq[key];
  }
  const values = item instanceof Map ? [...item.values()] : typeof item === 'object' ? Object.values(item) : [];
  const present = item instanceof Map ? item.has(key) : typeof item === 'object' && Object.hasOwn(item, String(key));
  if (present) return item instanceof Map ? item.get(key) : (item as Record<string, unknown>)[String(key)];
  if (typeof item === 'object') {
    // Go returns the zero value of the element type: "" for a map of strings (labels, annotations), nil otherwise.
    return values.every((v) => typeof v === 'string') ? '' : undefined;
  }
  throw new ExecFailure(`error calling index: can't index item of type ${typeName(item)}`);
}

const BASIC_FUNCTIONS: Readonly<Record<string, TemplateFunction>> = {
  json: (v) => toGoJson(v),
  split: (s, sep) => {
    const str = asString(s, 'split');
    const by = asString(sep, 'split');
    return by === '' ? Array.from(str) : str.split(by);
  },
  join: (list, sep) => {
    if (!Array.isArray(list)) throw new ExecFailure(`wrong type for value; expected []string; got ${typeName(list)}`);
    return list.map((x) => (typeof x === 'string' ? x : printValue(x))).join(asString(sep, 'join'));
  },
  title: (s) => title(asString(s, 'title')),
  lower: (s) => asString(s, 'lower').toLowerCase(),
  upper: (s) => asString(s, 'upper').toUpperCase(),
  pad: (s, prefix, suffix) => {
    const str = asString(s, 'pad');
    return str === '' ? str : ' '.repeat(asInt(prefix, 'pad')) + str + ' '.repeat(asInt(suffix, 'pad'));
  },
  truncate: (s, length) => {
    const points = Array.from(asString(s, 'truncate'));
    const n = asInt(length, 'truncate');
    return points.length < n ? points.join('') : points.slice(0, Math.max(0, n)).join('');
  },
  print: (...args) => sprint(args),
  println: (...args) => `${args.map((a) => printValue(a)).join(' ')}\n`,
  printf: (format, ...args) => sprintf(asString(format, 'printf'), args),
  len: (v) => {
    if (typeof v === 'string') return utf8Length(v);
    if (Array.isArray(v)) return v.length;
    if (v instanceof Map || v instanceof Set) return v.size;
    if (typeof v === 'object' && v !== null) return Object.keys(v).length;
    throw new ExecFailure(`error calling len: len of type ${typeName(v)}`);
  },
  index: (item, ...keys) => keys.reduce((acc, k) => indexInto(acc, k), item),
  not: (v) => !truth(v),
  eq: (a, ...rest) => {
    if (rest.length === 0) throw new ExecFailure('wrong number of args for eq: want at least 1 got 0');
    return rest.some((b) => basicEqual(a, b));
  },
  ne: (a, b) => !basicEqual(a, b),
  lt: (a, b) => compareArgs(a, b, 'lt') < 0,
  le: (a, b) => compareArgs(a, b, 'le') <= 0,
  gt: (a, b) => compareArgs(a, b, 'gt') > 0,
  ge: (a, b) => compareArgs(a, b, 'ge') >= 0,
};

// `and` and `or` short-circuit on unevaluated arguments, so the executor handles them.
const FUNCTION_NAMES: ReadonlySet<string> = new Set([...Object.keys(BASIC_FUNCTIONS), 'and', 'or']);

// docker's HeaderFunctions: these pass the header text through untouched (pad is deliberately not among them).
const HEADER_PASSTHROUGH = new Set(['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate']);

const ARITY: Readonly<Record<string, number>> = {
  json: 1,
  split: 2,
  join: 2,
  title: 1,
  lower: 1,
  upper: 1,
  pad: 3,
  truncate: 2,
  len: 1,
  not: 1,
  ne: 2,
  lt: 2,
  le: 2,
  gt: 2,
  ge: 2,
};

// ---------------------------------------------------------------------------------------------------------------
// Execution

/** How missing fields behave. */
export interface ExecuteOptions {
  /**
   * `error` (default, like docker's typed contexts): `{{.Nope}}` on an object fails with "can't evaluate field".
   * `no-value` (like Go maps, e.g. inspect output): it prints `<no value>` and is false in `{{if}}`.
   */
  readonly missingFields?: 'error' | 'no-value';
  /**
   * The data is a docker formatter context (an `images`/`ps`/`history` row): `{{json .}}` of it marshals like
   * docker's `MarshalJSON` for contexts — keys sorted, `<`, `>` and `&` escaped (`"Digest":"\u003cnone\u003e"`).
   * Other values keep Go's struct order and no HTML escaping, as docker's `json` function does.
   */
  readonly contextRows?: boolean;
}

interface HeaderMode {
  readonly headers: Readonly<Record<string, string>>;
}

class Executor {
  private readonly out: string[] = [];
  private vars: Array<[string, unknown]> = [];
  private root: unknown;

  constructor(
    private readonly source: string,
    private readonly options: ExecuteOptions,
    private readonly header: HeaderMode | undefined,
  ) {}

  run(nodes: Node[], data: unknown): string {
    this.vars = [['$', data]];
    this.root = data;
    this.walk(nodes, data);
    return this.out.join('');
  }

  partial(): string {
    return this.out.join('');
  }

  private fail(pos: number, what: string, msg: string): never {
    const before = this.source.slice(0, pos);
    const line = lineOf(this.source, pos);
    const col = pos - (before.lastIndexOf('\n') + 1);
    throw new ExecFailure(`template: :${line}:${col}: executing "" at <${what}>: ${msg}`);
  }

  private walk(nodes: Node[], dot: unknown): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.out.push(node.text);
          break;
        case 'action': {
          const v = this.pipeline(node.pipe, dot);
          if (node.pipe.decl.length === 0) this.out.push(printValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.pipeline(node.pipe, dot);
          if (truth(v)) this.walk(node.list, node.kind === 'with' ? v : dot);
          else if (node.elseList) this.walk(node.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.range(node, dot);
          break;
        case 'break':
          throw new BreakSignal();
        case 'continue':
          throw new ContinueSignal();
      }
    }
  }

  private range(node: Extract<Node, { kind: 'range' }>, dot: unknown): void {
    const mark = this.vars.length;
    const decl = node.pipe.decl;
    const value = this.pipeline({ ...node.pipe, decl: [] }, dot);
    let entries: Array<[unknown, unknown]>;
    if (this.header !== undefined && !Array.isArray(value)) {
      entries = []; // a header has no rows to range over
    } else if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (value instanceof Map) entries = [...value.entries()].sort(([a], [b]) => compareKeys(a, b));
    else if (isPlainObject(value))
      entries = Object.keys(value)
        .sort()
        .map((k) => [k, value[k]]);
    else if (value === undefined || value === null) entries = [];
    else if (typeof value === 'number' && Number.isInteger(value))
      entries = Array.from({ length: Math.max(0, value) }, (_, i) => [i, i]);
    else this.fail(node.pipe.pos, node.pipe.text, `range can't iterate over ${printValue(value)}`);
    if (entries.length === 0) {
      this.vars.length = mark;
      if (node.elseList) this.walk(node.elseList, dot);
      return;
    }
    for (const [key, elem] of entries) {
      this.vars.length = mark;
      if (decl.length === 1) this.setVar(decl[0] as string, elem, node.pipe.assign);
      if (decl.length === 2) {
        this.setVar(decl[0] as string, key, node.pipe.assign);
        this.setVar(decl[1] as string, elem, node.pipe.assign);
      }
      try {
        this.walk(node.list, elem);
      } catch (signal) {
        if (signal instanceof BreakSignal) break;
        if (signal instanceof ContinueSignal) continue;
        throw signal;
      }
    }
    this.vars.length = mark;
  }

  private setVar(name: string, value: unknown, assign: boolean): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        const entry = this.vars[i] as [string, unknown];
        if (entry[0] === name) {
          entry[1] = value;
          return;
        }
      }
    }
    this.vars.push([name, value]);
  }

  private getVar(name: string, pos: number): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const entry = this.vars[i] as [string, unknown];
      if (entry[0] === name) return entry[1];
    }
    return this.fail(pos, name, `undefined variable: ${name}`);
  }

  private pipeline(pipe: Pipeline, dot: unknown): unknown {
    let value: unknown;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = this.command(cmd, dot, first ? undefined : { value });
      first = false;
    }
    if (pipe.decl.length === 1) this.setVar(pipe.decl[0] as string, value, pipe.assign);
    return value;
  }

  private command(cmd: Command, dot: unknown, piped: { value: unknown } | undefined): unknown {
    const head = cmd.args[0] as Operand;
    if (head.kind === 'func') return this.call(head, cmd.args.slice(1), dot, piped);
    if (head.kind === 'literal' && head.value === null) return this.fail(head.pos, 'nil', 'nil is not a command');
    if (cmd.args.length > 1 || piped !== undefined) {
      // Arguments to a field are a method call: `.Method arg`.
      if (head.kind === 'field' || head.kind === 'var') {
        const extra = cmd.args.slice(1).map((a) => this.evalArg(a, dot));
        if (piped) extra.push(piped.value);
        return this.evalOperand(head, dot, extra);
      }
      return this.fail(head.pos, describe(head), `can't give argument to non-function ${describe(head)}`);
    }
    return this.evalOperand(head, dot, undefined);
  }

  private call(
    fn: Extract<Operand, { kind: 'func' }>,
    argNodes: Operand[],
    dot: unknown,
    piped: { value: unknown } | undefined,
  ): unknown {
    const name = fn.name;
    if (name === 'and' || name === 'or') {
      const thunks = argNodes.map((a) => () => this.evalArg(a, dot));
      if (piped) thunks.push(() => piped.value);
      if (thunks.length === 0) this.fail(fn.pos, name, `wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (const t of thunks) {
        v = t();
        if (name === 'and' ? !truth(v) : truth(v)) return v;
      }
      return v;
    }
    const args = argNodes.map((a) => this.evalArg(a, dot));
    if (piped) args.push(piped.value);
    const arity = ARITY[name];
    if (arity !== undefined && args.length !== arity) {
      this.fail(fn.pos, name, `wrong number of args for ${name}: want ${arity} got ${args.length}`);
    }
    if (this.header !== undefined && HEADER_PASSTHROUGH.has(name)) return args[0];
    if (name === 'json' && this.options.contextRows === true && args.length === 1 && args[0] === this.root) {
      return toContextJson(args[0]);
    }
    const impl = BASIC_FUNCTIONS[name] as TemplateFunction;
    try {
      return impl(...args);
    } catch (error) {
      if (error instanceof ExecFailure) {
        const msg =
          error.message.startsWith('error calling') || error.message.startsWith('wrong')
            ? error.message
            : `error calling ${name}: ${error.message}`;
        return this.fail(fn.pos, name, msg);
      }
      throw error;
    }
  }

  private evalArg(a: Operand, dot: unknown): unknown {
    if (a.kind === 'func') return this.call(a, [], dot, undefined);
    return this.evalOperand(a, dot, undefined);
  }

  private evalOperand(a: Operand, dot: unknown, callArgs: unknown[] | undefined): unknown {
    switch (a.kind) {
      case 'literal':
        return a.value;
      case 'dot':
        return this.header !== undefined ? '' : dot;
      case 'field':
        if (this.header !== undefined) return this.headerFor(a.chain);
        return this.chain(dot, a.chain, a.pos, callArgs);
      case 'var': {
        const base = this.getVar(a.name, a.pos);
        if (this.header !== undefined && a.name === '$' && a.chain.length > 0) return this.headerFor(a.chain);
        return this.chain(base, a.chain, a.pos, callArgs);
      }
      case 'pipe': {
        const v = this.pipeline(a.pipeline, dot);
        return this.chain(v, a.chain, a.pos, callArgs);
      }
      case 'func':
        return this.call(a, [], dot, undefined);
    }
  }

  private headerFor(chain: string[]): unknown {
    const headers = this.header?.headers ?? {};
    const full = chain.join('.');
    if (Object.hasOwn(headers, full)) return headers[full];
    const last = chain[chain.length - 1] ?? '';
    if (chain.length === 1 && Object.hasOwn(headers, last)) return headers[last];
    return new HeaderGuess(headerFromField(last));
  }

  private chain(receiver: unknown, chain: string[], pos: number, callArgs: unknown[] | undefined): unknown {
    let v = receiver;
    chain.forEach((name, i) => {
      const isLast = i === chain.length - 1;
      v = this.field(v, name, pos, chain.slice(0, i + 1), isLast ? callArgs : undefined);
    });
    if (chain.length === 0 && callArgs !== undefined && callArgs.length > 0) {
      this.fail(pos, '', "can't give argument to non-function");
    }
    return v;
  }

  private field(receiver: unknown, name: string, pos: number, path: string[], args: unknown[] | undefined): unknown {
    const what = `.${path.join('.')}`;
    if (receiver === undefined) return undefined;
    if (receiver === null) return this.fail(pos, what, `nil pointer evaluating interface {}.${name}`);
    if (receiver instanceof Map)
      return receiver.has(name) ? receiver.get(name) : this.missing(receiver, name, pos, what, true);
    if (typeof receiver !== 'object' || Array.isArray(receiver)) {
      return this.fail(pos, what, `can't evaluate field ${name} in type ${typeName(receiver)}`);
    }
    const found = lookup(receiver, name);
    if (!found.ok) return this.missing(receiver, name, pos, what, isPlainObject(receiver));
    if (typeof found.value === 'function') {
      const fn = found.value as (...a: unknown[]) => unknown;
      try {
        return fn.apply(receiver, args ?? []);
      } catch (error) {
        return this.fail(pos, what, `error calling ${name}: ${(error as Error).message}`);
      }
    }
    if (args !== undefined && args.length > 0)
      return this.fail(pos, what, `${name} has arguments but cannot be invoked as function`);
    return found.value;
  }

  private missing(receiver: unknown, name: string, pos: number, what: string, mapLike: boolean): unknown {
    if (mapLike && this.options.missingFields === 'no-value') return undefined;
    return this.fail(pos, what, `can't evaluate field ${name} in type ${typeName(receiver)}`);
  }
}

function lookup(receiver: object, name: string): { ok: true; value: unknown } | { ok: false } {
  if (Object.hasOwn(receiver, name)) return { ok: true, value: (receiver as Record<string, unknown>)[name] };
  let proto = Object.getPrototypeOf(receiver) as object | null;
  while (proto !== null && proto !== Object.prototype) {
    if (Object.hasOwn(proto, name)) return { ok: true, value: (receiver as Record<string, unknown>)[name] };
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return { ok: false };
}

function describe(a: Operand): string {
  switch (a.kind) {
    case 'field':
      return `.${a.chain.join('.')}`;
    case 'var':
      return a.name + (a.chain.length ? `.${a.chain.join('.')}` : '');
    case 'dot':
      return '.';
    case 'func':
      return a.name;
    case 'literal':
      return printValue(a.value);
    case 'pipe':
      return '(…)';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** A parsed `--format` template. */
export interface GoTemplate {
  /** The template text after docker's `\t`/`\n` substitution. */
  readonly source: string;
  /** Render one value. @throws TemplateError `template parsing error: template: :1:2: executing … ` */
  execute(data: unknown, options?: ExecuteOptions): string;
  /** Render the header row: fields become their header names (`headers`, else derived), text functions pass through. */
  executeHeader(headers?: Readonly<Record<string, string>>): string;
}

/**
 * Parse a Go template (no `table`/`json` handling; see {@link renderFormat}).
 * @throws TemplateError `template parsing error: template: :1: function "foo" not defined`
 */
export function compileTemplate(source: string): GoTemplate {
  let nodes: Node[];
  try {
    nodes = new Parser(source, segment(source), FUNCTION_NAMES).parse();
  } catch (error) {
    if (error instanceof ParseFailure) throw new TemplateError(`template parsing error: ${error.message}`);
    throw error;
  }
  return {
    source,
    execute(data: unknown, options: ExecuteOptions = {}): string {
      try {
        return new Executor(source, options, undefined).run(nodes, data);
      } catch (error) {
        if (error instanceof ExecFailure) throw new TemplateError(`template parsing error: ${error.message}`);
        if (error instanceof BreakSignal || error instanceof ContinueSignal) return '';
        throw error;
      }
    },
    executeHeader(headers: Readonly<Record<string, string>> = {}): string {
      const executor = new Executor(source, {}, { headers });
      try {
        return executor.run(nodes, headers);
      } catch (error) {
        // docker ignores header errors and prints what was rendered so far.
        if (error instanceof ExecFailure || error instanceof BreakSignal || error instanceof ContinueSignal)
          return executor.partial();
        throw error;
      }
    },
  };
}

/** The `table` format key: `table {{.A}}\t{{.B}}` prints a header row and aligned columns. */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

/** The `json` format key: one JSON object per line (`{{json .}}`). */
export function isJsonFormat(format: string): boolean {
  return format === 'json';
}

/**
 * A header name derived from a field name, for fields the caller's header map does not name:
 * upper-case, words split at case changes (`CreatedSince` → `CREATED SINCE`, `ID` → `ID`, `RepoTags` → `REPO TAGS`).
 */
export function headerFromField(field: string): string {
  return field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toUpperCase();
}

/** docker's preFormat: strip the `table` key or expand `json`, trim spaces, turn typed `\t` and `\n` into real ones. */
export function preFormat(format: string): string {
  let f = format;
  if (isTableFormat(f)) f = f.slice('table'.length);
  else if (isJsonFormat(f)) f = '{{json .}}';
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/** Options of {@link renderFormat}. */
export interface RenderOptions extends ExecuteOptions {
  /** Header names by field (`{ ID: 'IMAGE ID', CreatedSince: 'CREATED' }`); unnamed fields get {@link headerFromField}. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The command's default format, used when the format is empty or just `table` (docker's `NewImageFormat` etc.). */
  readonly defaultFormat?: string;
}

/**
 * Render rows with a docker `--format` value, exactly as docker/cli's formatter.Context does: each row followed by a
 * newline; for `table …` a header row first and everything aligned ({@link alignColumns}); `json` is `{{json .}}`.
 * @throws TemplateError for a template that does not parse or fails on a row
 * @example
 * renderFormat('table {{.Repository}}\t{{.Tag}}', [{ Repository: 'ubuntu', Tag: '24.04' }], { headers: { Repository: 'REPOSITORY', Tag: 'TAG' } })
 * // 'REPOSITORY   TAG\nubuntu       24.04\n'
 */
export function renderFormat(format: string, rows: Iterable<unknown>, options: RenderOptions = {}): string {
  const chosen =
    (format === '' || format === 'table') && options.defaultFormat !== undefined ? options.defaultFormat : format;
  const template = compileTemplate(preFormat(chosen));
  let body = '';
  for (const row of rows) body += `${template.execute(row, options)}\n`;
  if (!isTableFormat(chosen)) return body;
  const header = template.executeHeader(options.headers ?? {});
  return alignColumns(`${header}\n${body}`);
}

/** Options of {@link alignColumns}: Go tabwriter's, defaulting to docker's (minwidth 10, tabwidth 1, padding 3, ' '). */
export interface AlignOptions {
  readonly minWidth?: number;
  readonly padding?: number;
  readonly padChar?: string;
}

/**
 * Go's `text/tabwriter` (elastic tabstops) with docker's settings: tab-terminated cells in consecutive lines form a
 * column, each padded to its widest cell plus 3 (at least 10); the last cell of a line is not part of a column.
 * Widths are terminal cells (East Asian wide characters count 2), as docker's copy of tabwriter measures them.
 */
export function alignColumns(text: string, options: AlignOptions = {}): string {
  const minWidth = options.minWidth ?? 10;
  const padding = options.padding ?? 3;
  const padChar = options.padChar ?? ' ';
  const lines = text.split('\n').map((line) => line.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i] as string[];
      let line = '';
      cells.forEach((cell, j) => {
        line += cell;
        const w = widths[j];
        if (j < cells.length - 1 && w !== undefined) line += padChar.repeat(Math.max(0, w - displayWidth(cell)));
      });
      out.push(line);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let t = line0; t < line1; t++) {
      if (column >= (lines[t] as string[]).length - 1) continue;
      writeLines(start, t);
      start = t;
      let width = minWidth;
      for (; t < line1; t++) {
        const cells = lines[t] as string[];
        if (column >= cells.length - 1) break;
        width = Math.max(width, displayWidth(cells[column] as string) + padding);
      }
      widths.push(width);
      format(start, t);
      widths.pop();
      start = t;
      // Like Go's tabwriter, the loop's increment skips line t: it ended the block, so it has no cell here either.
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}

/** Terminal width of a string: wide and fullwidth characters count 2, combining marks 0, others 1. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0 || /\p{Mn}|\p{Me}|\p{Cf}/u.test(ch)) continue;
    w += isWide(c) ? 2 : 1;
  }
  return w;
}

function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}
