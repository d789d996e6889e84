/**
 * docker's `--format`: Go's `text/template` with docker's functions (`json`, `split`, `join`, `title`, `lower`,
 * `upper`, `pad`, `truncate`) and its `table` / `json` format keys, rendered the way docker/cli's formatter does
 * (header row from a header map, columns aligned like its tabwriter: minwidth 10, padding 3).
 *
 * The template language: text, `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{$}}`, variables (`$x := …`, `$x = …`),
 * pipelines (`{{.X | upper}}`), parenthesised calls, `{{if}}/{{else if}}/{{else}}/{{end}}`, `{{range}}` (with
 * `$i, $v :=`, `{{else}}`, `{{break}}`, `{{continue}}`), `{{with}}`, `{{define}}`/`{{template}}`/`{{block}}`,
 * comments, `{{-`/`-}}` trimming, and Go's builtins (`print`, `printf`, `println`, `len`, `index`, `slice`, `not`,
 * `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `html`, `js`, `urlquery`, `call`). Arguments are type-checked
 * and errors are worded as Go words them; test/format-docker.test.ts holds 214 templates rendered byte for byte
 * like docker 28.2.2.
 */
import { LadeError } from '@lade/digest';
import { formatG } from './human.js';

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
  | { kind: 'string'; value: string; text: string; pos: number }
  | { kind: 'number'; value: number; float: boolean; text: string; pos: number }
  | { kind: 'char'; value: string; pos: number }
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
    if (typeof close === 'string') throw new ParseFailure(`template: :${lineOf(source, open)}: ${close}`);
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

/**
 * Index of the `}}` closing an action that starts at `from`, skipping quoted strings and comments;
 * or the lexer's error message (`unclosed action`, `unterminated quoted string`, …).
 */
function findActionEnd(source: string, from: number): number | string {
  const unterminated: Record<string, string> = {
    '"': 'unterminated quoted string',
    '`': 'unterminated raw quoted string',
    "'": 'unterminated character constant',
  };
  let i = from;
  while (i < source.length) {
    const c = source[i] ?? '';
    if (c === '"' || c === '`' || c === "'") {
      const quote = c;
      i++;
      while (source[i] !== quote) {
        if (i >= source.length) return unterminated[quote] as string;
        if (quote !== '`' && source[i] === '\\') i++;
        if (quote !== '`' && (source[i] === '\n' || i >= source.length)) return unterminated[quote] as string;
        i++;
      }
      i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const endComment = source.indexOf('*/', i + 2);
      if (endComment < 0) return 'unclosed comment';
      i = endComment + 2;
      continue;
    }
    if (c === '}') return source[i + 1] === '}' ? i : "bad character U+007D '}'";
    i++;
  }
  return 'unclosed action';
}

// Go identifiers and field names are Unicode letters, digits and `_`.
const IDENT_START = /[\p{L}_]/u;
const IDENT_PART = /[\p{L}\p{N}_]/u;

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
      const start = i;
      const value = readString(c);
      tokens.push({ kind: 'string', value, text: text.slice(start, i), pos });
      continue;
    }
    if (c === "'") {
      const start = i;
      const s = readString("'");
      const cp = s.codePointAt(0);
      if (cp === undefined || [...s].length !== 1) fail(`malformed character constant: ${text.slice(start, i)}`);
      tokens.push({ kind: 'number', value: cp ?? 0, float: false, text: text.slice(start, i), pos });
      continue;
    }
    if (/[0-9+-]/.test(c)) {
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
    // Go's lexer passes other printable ASCII through for the parser to reject; anything else it refuses itself.
    if (/^[\x21-\x7e]$/.test(c)) {
      tokens.push({ kind: 'char', value: c, pos });
      i++;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
    fail(`unrecognized character in action: U+${hex4(ch)} '${ch}'`);
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
    if (raw === '' || raw === '+' || raw === '-' || raw === '.' || IDENT_PART.test(text[i + raw.length] ?? '')) {
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
    // Go makes a float64 of a constant written with a point or an exponent, an int otherwise.
    const float = !/^0[xXoObB]/.test(body) && /[.eE]/.test(body);
    return { kind: 'number', value: negative ? -value : value, float, text: raw, pos };
  }
}

function hex4(c: string): string {
  return (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

type Operand =
  | { kind: 'field'; chain: string[]; pos: number; text: string }
  | { kind: 'dot'; pos: number; text: string }
  | { kind: 'var'; name: string; chain: string[]; pos: number; text: string }
  | { kind: 'func'; name: string; pos: number; text: string }
  | { kind: 'literal'; value: unknown; pos: number; text: string }
  | { kind: 'pipe'; pipeline: Pipeline; chain: string[]; pos: number; text: string };

interface Command {
  readonly args: Operand[];
  readonly pos: number;
  /** The command as written, for error locations (`at <index .Name 10>`). */
  readonly text: string;
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
  | { kind: 'template'; name: string; pipe: Pipeline | undefined; pos: number; text: string }
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

interface ListEnd {
  readonly word: 'end' | 'else';
  readonly seg: Segment;
  readonly rest: Token[];
}

class Parser {
  private index = 0;
  private readonly vars: string[][] = [['$']];
  private rangeDepth = 0;
  private depth = 0;
  readonly defines = new Map<string, Node[]>();

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
  private parseList(): { list: Node[]; end: ListEnd | undefined } {
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
      if (first.kind === 'ident') {
        switch (first.name) {
          case 'end':
          case 'else':
            if (first.name === 'end' && tokens.length > 1)
              this.fail(seg, `unexpected ${describeToken(tokens[1])} in end`);
            return { list, end: { word: first.name, seg, rest: tokens.slice(1) } };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.parseControl(first.name, seg, tokens.slice(1)));
            continue;
          case 'break':
          case 'continue':
            if (tokens.length > 1) this.fail(seg, `unexpected ${describeToken(tokens[1])} in {{${first.name}}}`);
            if (this.rangeDepth === 0) this.fail(seg, `{{${first.name}}} outside {{range}}`);
            list.push({ kind: first.name, pos: seg.pos });
            continue;
          case 'define':
            if (this.depth > 0) this.fail(seg, 'unexpected <define> in command');
            this.parseDefine(seg, tokens.slice(1));
            continue;
          case 'template':
            list.push(this.parseTemplateCall(seg, tokens.slice(1), 'template'));
            continue;
          case 'block': {
            const call = this.parseTemplateCall(seg, tokens.slice(1), 'block');
            const body = this.parseBody('block');
            this.defines.set(call.name, body);
            list.push(call);
            continue;
          }
        }
      }
      list.push({ kind: 'action', pipe: this.parsePipeline(seg, tokens, 'command') });
    }
    return { list, end: undefined };
  }

  /** A list that must end with `{{end}}` (define, block). */
  private parseBody(context: string): Node[] {
    const saved = this.vars.splice(0, this.vars.length, ['$']);
    this.depth++;
    const body = this.parseList();
    this.depth--;
    this.vars.splice(0, this.vars.length, ...saved);
    if (body.end === undefined) this.fail(undefined, 'unexpected EOF');
    if (body.end.word !== 'end') this.fail(body.end.seg, `unexpected {{else}} in ${context} clause`);
    return body.list;
  }

  private parseDefine(seg: Segment, tokens: Token[]): void {
    const name = tokens[0];
    if (name?.kind !== 'string') this.fail(seg, `unexpected ${describeToken(name)} in define clause`);
    if (tokens.length > 1) this.fail(seg, `unexpected ${describeToken(tokens[1])} in define clause`);
    this.defines.set(name.value, this.parseBody('define'));
  }

  private parseTemplateCall(seg: Segment, tokens: Token[], context: string): Extract<Node, { kind: 'template' }> {
    const name = tokens[0];
    if (name?.kind !== 'string') this.fail(seg, `unexpected ${describeToken(name)} in ${context} clause`);
    const rest = tokens.slice(1);
    const pipe = rest.length > 0 ? this.parsePipeline(seg, rest, context) : undefined;
    const text = `{{template ${name.text}${pipe === undefined ? '' : ` ${pipe.text}`}}}`;
    return { kind: 'template', name: name.value, pipe, pos: name.pos, text };
  }

  private parseControl(word: 'if' | 'with' | 'range', seg: Segment, tokens: Token[]): Node {
    this.vars.push([]);
    this.depth++;
    const pipe = this.parsePipeline(seg, tokens, word);
    if (word === 'range') this.rangeDepth++;
    const body = this.parseList();
    if (word === 'range') this.rangeDepth--;
    if (body.end === undefined) this.fail(undefined, 'unexpected EOF');
    let elseList: Node[] | undefined;
    const end = body.end;
    if (end.word === 'else') {
      const chained = end.rest[0];
      if (chained !== undefined) {
        // `{{else if …}}` / `{{else with …}}`: a nested control that shares our {{end}}.
        if (chained.kind !== 'ident' || (chained.name !== 'if' && chained.name !== 'with')) {
          this.fail(end.seg, `unexpected ${describeToken(chained)} in else`);
        }
        elseList = [this.parseControl(chained.name, end.seg, end.rest.slice(1))];
      } else {
        const after = this.parseList();
        if (after.end === undefined) this.fail(undefined, 'unexpected EOF');
        if (after.end.word !== 'end') this.fail(after.end.seg, 'expected end; found {{else}}');
        elseList = after.list;
      }
    }
    this.depth--;
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
      } else if (t1?.kind === 'punct' && t1.value === ',') {
        const t2 = tokens[2];
        const t3 = tokens[3];
        if (context !== 'range') this.fail(seg, `too many declarations in ${context}`);
        if (t3?.kind === 'punct' && t3.value === ',') this.fail(seg, `too many declarations in ${context}`);
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
    // Go checks an assignment's variable only when it runs (`undefined variable: $x`).
    if (!assign) for (const v of decl) this.vars[this.vars.length - 1]?.push(v);
    const { cmds, next } = this.parseCommands(seg, tokens, i, context);
    if (next !== tokens.length) this.fail(seg, `unexpected ${describeToken(tokens[next])} in ${context}`);
    if (cmds.length === 0) this.fail(seg, `missing value for ${context}`);
    const first = tokens[0];
    const last = tokens[tokens.length - 1];
    const text = first && last ? this.source.slice(first.pos, tokenEnd(last)) : '';
    return { decl, assign, cmds, pos: seg.pos, text };
  }

  private isDeclared(name: string): boolean {
    return this.vars.some((scope) => scope.includes(name));
  }

  /** Commands separated by `|`, up to the end of the tokens or a `)` (when inside parentheses). */
  private parseCommands(
    seg: Segment,
    tokens: Token[],
    start: number,
    context: string,
  ): { cmds: Command[]; next: number } {
    const cmds: Command[] = [];
    let i = start;
    let args: Operand[] = [];
    let cmdStart = tokens[i];
    let cmdLast: Token | undefined;
    const finish = (): void => {
      if (args.length === 0 || cmdStart === undefined || cmdLast === undefined) return;
      const text = this.source.slice(cmdStart.pos, tokenEnd(cmdLast));
      cmds.push({ args, pos: cmdStart.pos, text });
    };
    while (i < tokens.length) {
      const t = tokens[i] as Token;
      if (t.kind === 'punct' && t.value === ')') {
        if (context !== 'parenthesized pipeline') this.fail(seg, 'unexpected right paren');
        break;
      }
      if (t.kind === 'punct' && t.value === '|') {
        // Go accepts a trailing `|` but not an empty command in front of one.
        if (args.length === 0) this.fail(seg, `unexpected "|" in ${context}`);
        finish();
        args = [];
        i++;
        cmdStart = tokens[i];
        continue;
      }
      if (t.kind === 'punct' && t.value === '(') {
        const inner = this.parseCommands(seg, tokens, i + 1, 'parenthesized pipeline');
        const close = tokens[inner.next];
        if (close?.kind !== 'punct' || close.value !== ')') this.fail(seg, 'unclosed left paren');
        if (inner.cmds.length === 0) this.fail(seg, 'missing value for parenthesized pipeline');
        i = inner.next + 1;
        let chain: string[] = [];
        let lastToken: Token = close;
        const maybeChain = tokens[i];
        if (maybeChain?.kind === 'chain') {
          chain = maybeChain.chain;
          lastToken = maybeChain;
          i++;
        }
        const text = this.source.slice(t.pos, tokenEnd(lastToken));
        const innerText = this.source.slice(t.pos + 1, close.pos).trim();
        args.push({
          kind: 'pipe',
          pipeline: { decl: [], assign: false, cmds: inner.cmds, pos: t.pos, text: innerText },
          chain,
          pos: t.pos,
          text,
        });
        cmdLast = lastToken;
        continue;
      }
      args.push(this.operand(seg, t));
      cmdLast = t;
      i++;
    }
    finish();
    return { cmds, next: i };
  }

  private operand(seg: Segment, t: Token): Operand {
    const text = this.source.slice(t.pos, tokenEnd(t));
    switch (t.kind) {
      case 'field': {
        // Go places a field chain at its second link (`.Name.Foo` fails "at" column of `.Foo`).
        const pos = t.chain.length > 1 ? t.pos + 1 + (t.chain[0]?.length ?? 0) : t.pos;
        return { kind: 'field', chain: t.chain, pos, text };
      }
      case 'dot':
        return { kind: 'dot', pos: t.pos, text };
      case 'var':
        if (!this.isDeclared(t.name)) this.fail(seg, `undefined variable "${t.name}"`);
        // Like a field chain, Go places `$x.Foo` at its first link.
        return {
          kind: 'var',
          name: t.name,
          chain: t.chain,
          pos: t.chain.length > 0 ? t.pos + t.name.length : t.pos,
          text,
        };
      case 'string':
        return { kind: 'literal', value: t.value, pos: t.pos, text };
      case 'number':
        return { kind: 'literal', value: t.float ? new GoFloat(t.value) : t.value, pos: t.pos, text };
      case 'ident':
        if (t.name === 'true' || t.name === 'false')
          return { kind: 'literal', value: t.name === 'true', pos: t.pos, text };
        if (t.name === 'nil') return { kind: 'literal', value: null, pos: t.pos, text };
        if (KEYWORDS.has(t.name)) this.fail(seg, `unexpected <${t.name}> in command`);
        if (!this.funcs.has(t.name)) this.fail(seg, `function "${t.name}" not defined`);
        return { kind: 'func', name: t.name, pos: t.pos, text };
      default:
        return this.fail(seg, `unexpected ${describeToken(t)} in operand`);
    }
  }
}

/** Where a token's text ends in the source. */
function tokenEnd(t: Token): number {
  switch (t.kind) {
    case 'punct':
      return t.pos + t.value.length;
    case 'char':
      return t.pos + 1;
    case 'ident':
      return t.pos + t.name.length;
    case 'field':
    case 'chain':
      return t.pos + t.chain.reduce((n, c) => n + 1 + c.length, 0);
    case 'dot':
      return t.pos + 1;
    case 'var':
      return t.pos + t.name.length + t.chain.reduce((n, c) => n + 1 + c.length, 0);
    case 'string':
    case 'number':
      return t.pos + t.text.length;
  }
}

/** A token as Go's parser names it in "unexpected …" errors. */
function describeToken(t: Token | undefined): string {
  if (t === undefined) return 'EOF';
  switch (t.kind) {
    case 'punct':
    case 'char':
      return JSON.stringify(t.value);
    case 'ident':
      return KEYWORDS.has(t.name) ? `<${t.name}>` : JSON.stringify(t.name);
    case 'field':
    case 'chain':
      return `<.${t.chain.join('.')}>`;
    case 'dot':
      return '<.>';
    case 'var':
      return JSON.stringify(t.name);
    case 'string':
      return t.text;
    case 'number':
      return JSON.stringify(t.text);
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

/** A float64 constant written in the template (`1.5`, `1e3`): Go prints and compares it as a float, not an int. */
class GoFloat {
  constructor(readonly value: number) {}
}

class ExecFailure extends Error {
  /** Where Go reports the failure: the node's text and position, when it is not the command's. */
  constructor(
    message: string,
    readonly at?: { readonly text: string; readonly pos: number },
  ) {
    super(message);
  }
}
class BreakSignal {}
class ContinueSignal {}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v instanceof GoFloat) return v.value;
  return undefined;
}

/** Go's type name for a value, as its error messages print it. */
function typeName(v: unknown): string {
  if (v === undefined || v === null) return 'interface {}';
  if (typeof v === 'string' || v instanceof HeaderGuess) return 'string';
  if (v instanceof GoFloat) return 'float64';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return v.length > 0 && v.every((x) => typeof x === 'string') ? '[]string' : '[]interface {}';
  if (v instanceof Map || isPlainObject(v)) return 'map[string]interface {}';
  if (typeof v === 'function') return 'func';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Go's basic kind for comparisons. */
function kindOf(v: unknown): string {
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string' || v instanceof HeaderGuess) return 'string';
  if (typeof v === 'boolean') return 'bool';
  return 'other';
}

/** Go's truth: false, 0, nil, empty string, empty array/map are false. */
function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || Number.isNaN(v)) return false;
  if (v instanceof HeaderGuess) return false;
  if (v instanceof GoFloat) return v.value !== 0;
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
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : formatFloat(v);
  if (v instanceof GoFloat) return formatFloat(v.value);
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

/** Go's `%v` of a float64: the shortest digits that round-trip, in exponent form when the exponent is < -4 or >= 6. */
function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  // strconv.FormatFloat(f, 'g', -1, 64): %e when the exponent is < -4 or >= 6 (not 21 as in JavaScript).
  const [mantissa, e] = n.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** Go's `encoding/json` with HTML escaping off, as docker's `json` function: keys in object order. */
export function toGoJson(v: unknown): string {
  const s = JSON.stringify(v, (_key, value: unknown) => {
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Set) return [...value];
    if (value instanceof HeaderGuess) return value.text;
    if (value instanceof GoFloat) return value.value;
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

/** Parameter types of the functions, as Go checks them before calling. */
type ParamType = 'string' | 'int' | '[]string' | 'any';

interface Signature {
  readonly params: readonly ParamType[];
  readonly variadic?: ParamType;
}

function str(v: unknown): string {
  return v instanceof HeaderGuess ? v.text : (v as string);
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Go's strings.Title: upper-case each letter that follows a separator (anything but letters, digits, `_`). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? ch.toUpperCase() : ch;
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
  const ka = kindOf(a);
  if (ka !== kindOf(b) || ka === 'other' || ka === 'bool') {
    throw new ExecFailure(
      `error calling ${fn}: ${ka === kindOf(b) ? 'invalid type for comparison' : 'incompatible types for comparison'}`,
    );
  }
  if (ka === 'string') {
    const x = str(a);
    const y = str(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return (num(a) ?? 0) - (num(b) ?? 0);
}

function basicEqual(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  const ka = kindOf(a);
  if (ka !== kindOf(b)) throw new ExecFailure('error calling eq: incompatible types for comparison');
  if (ka === 'other') throw new ExecFailure('error calling eq: invalid type for comparison');
  if (ka === 'string') return str(a) === str(b);
  if (ka === 'int' || ka === 'float') return num(a) === num(b);
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

/** Go's `fmt.Sprintf` for the common verbs: %v %s %d %q %t %x %X %f %e %g %%, with flags, width and precision. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let argIndex = 0;
  return format.replace(
    /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
    (_whole, flags: string, width?: string, prec?: string, verb?: string) => {
      if (verb === '%') return '%';
      if (argIndex >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[argIndex++];
      const n = num(arg);
      const isFloat = arg instanceof GoFloat || (typeof arg === 'number' && !Number.isInteger(arg));
      const p = prec === undefined ? undefined : Number(prec);
      const bad = (): string => `%!${verb}(${typeName(arg)}=${printValue(arg)})`;
      let s: string;
      switch (verb) {
        case 'v':
          s = printValue(arg);
          if (p !== undefined) s = [...s].slice(0, p).join('');
          break;
        case 's':
          s = typeof arg === 'number' || typeof arg === 'boolean' || arg instanceof GoFloat ? bad() : printValue(arg);
          if (p !== undefined) s = [...s].slice(0, p).join('');
          break;
        case 'q':
          if (typeof arg === 'string') s = JSON.stringify(arg);
          else if (n !== undefined && !isFloat) s = quoteRune(n);
          else s = bad();
          break;
        case 'c':
          s = n !== undefined && !isFloat ? String.fromCodePoint(n) : bad();
          break;
        case 'd':
          s = n !== undefined && !isFloat ? String(n) : bad();
          if (flags.includes('+') && n !== undefined && !isFloat && n >= 0) s = `+${s}`;
          break;
        case 't':
          s = typeof arg === 'boolean' ? String(arg) : bad();
          break;
        case 'x':
        case 'X': {
          let h: string;
          if (n !== undefined && !isFloat) h = n.toString(16);
          else if (typeof arg === 'string') h = [...utf8(arg)].map((b) => b.toString(16).padStart(2, '0')).join('');
          else h = bad();
          s = verb === 'X' ? h.toUpperCase() : h;
          break;
        }
        case 'f':
        case 'F':
          s = n !== undefined && isFloat ? n.toFixed(p ?? 6) : bad();
          break;
        case 'e':
          s = n !== undefined && isFloat ? n.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : bad();
          break;
        case 'g':
          s = n !== undefined && isFloat ? (p === undefined ? formatFloat(n) : formatG(n, p)) : bad();
          break;
        default:
          s = bad();
      }
      if (width !== undefined) {
        const w = Number(width);
        const len = [...s].length;
        if (len < w) {
          if (flags.includes('-')) s = s + ' '.repeat(w - len);
          else if (flags.includes('0') && /[dfFeEgxX]/.test(verb ?? ''))
            s = s.startsWith('-') ? `-${s.slice(1).padStart(w - 1, '0')}` : s.padStart(w, '0');
          else s = ' '.repeat(w - len) + s;
        }
      }
      return s;
    },
  );
}

/** Go's strconv.QuoteRune: `'A'`, `'\n'`, `'\x01'`. */
function quoteRune(n: number): string {
  const escapes: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    39: "\\'",
    92: '\\\\',
  };
  const escaped = escapes[n];
  if (escaped !== undefined) return `'${escaped}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCodePoint(n)}'`;
}

function indexInto(item: unknown, key: unknown): unknown {
  // A missing map (JSON null) indexes like Go's nil map[string]string: the zero value.
  if (item === undefined || item === null) return typeof key === 'string' ? '' : undefined;
  if (Array.isArray(item) || typeof item === 'string') {
    const k = num(key);
    if (k === undefined || !Number.isInteger(k) || key instanceof GoFloat) {
      throw new ExecFailure(`error calling index: cannot index slice/array with type ${typeName(key)}`);
    }
    const seq = typeof item === 'string' ? utf8(item) : item;
    if (k < 0 || k >= seq.length) throw new ExecFailure(`error calling index: index out of range: ${k}`);
    return seq[k];
  }
  if (typeof item === 'object') {
    const present = item instanceof Map ? item.has(key) : Object.hasOwn(item, String(key));
    if (present) return item instanceof Map ? item.get(key) : (item as Record<string, unknown>)[String(key)];
    const values = item instanceof Map ? [...item.values()] : Object.values(item);
    // Go returns the zero value of the element type: "" for a map of strings (labels, annotations), nil otherwise.
    return values.every((v) => typeof v === 'string') ? '' : undefined;
  }
  throw new ExecFailure(`error calling index: can't index item of type ${typeName(item)}`);
}

function sliceOf(item: unknown, indexes: unknown[]): unknown {
  if (indexes.length > 3) throw new ExecFailure(`error calling slice: too many slice indexes: ${indexes.length}`);
  const ints = indexes.map((i) => {
    const n = num(i);
    if (n === undefined || !Number.isInteger(n) || i instanceof GoFloat) {
      throw new ExecFailure(`error calling slice: cannot index slice/array with type ${typeName(i)}`);
    }
    return n;
  });
  if (typeof item === 'string') {
    if (ints.length === 3) throw new ExecFailure('error calling slice: cannot 3-index slice a string');
    const bytes = utf8(item);
    const [lo, hi] = sliceBounds(ints, bytes.length);
    return new TextDecoder().decode(bytes.slice(lo, hi));
  }
  if (Array.isArray(item)) {
    const [lo, hi] = sliceBounds(ints, item.length);
    return item.slice(lo, hi);
  }
  throw new ExecFailure(`error calling slice: can't slice item of type ${typeName(item)}`);
}

/** Go's slice bounds checks: each index within 0..len, then low <= high. */
function sliceBounds(ints: number[], length: number): [number, number] {
  for (const i of ints) if (i < 0 || i > length) throw new ExecFailure(`error calling slice: index out of range: ${i}`);
  const [lo = 0, hi = length] = ints;
  if (lo > hi) throw new ExecFailure(`error calling slice: invalid slice index: ${lo} > ${hi}`);
  return [lo, hi];
}

/** Go's template.HTMLEscapeString. */
function htmlEscape(s: string): string {
  return s.replace(
    /[\0"'&<>]/g,
    (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c,
  );
}

/** Go's template.JSEscapeString. */
function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<' || ch === '>' || ch === '&' || ch === '=') out += `\\u00${c.toString(16).toUpperCase()}`;
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of utf8(s)) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const FUNCTIONS: Readonly<Record<string, { readonly sig: Signature; readonly fn: TemplateFunction }>> = {
  // docker's basicFunctions
  json: { sig: { params: ['any'] }, fn: (v) => toGoJson(v) },
  split: {
    sig: { params: ['string', 'string'] },
    fn: (s, sep) => (str(sep) === '' ? Array.from(str(s)) : str(s).split(str(sep))),
  },
  join: {
    sig: { params: ['[]string', 'string'] },
    fn: (list, sep) => ((list as string[] | undefined) ?? []).join(str(sep)),
  },
  title: { sig: { params: ['string'] }, fn: (s) => title(str(s)) },
  lower: { sig: { params: ['string'] }, fn: (s) => str(s).toLowerCase() },
  upper: { sig: { params: ['string'] }, fn: (s) => str(s).toUpperCase() },
  pad: {
    sig: { params: ['string', 'int', 'int'] },
    fn: (s, prefix, suffix) => {
      if (str(s) === '') return '';
      const before = num(prefix) ?? 0;
      const after = num(suffix) ?? 0;
      if (before < 0 || after < 0) throw new ExecFailure('error calling pad: strings: negative Repeat count');
      return ' '.repeat(before) + str(s) + ' '.repeat(after);
    },
  },
  truncate: {
    sig: { params: ['string', 'int'] },
    // Go's truncateWithLength counts bytes, so a cut inside a character leaves a broken one (shown as U+FFFD).
    fn: (s, length) => {
      const bytes = utf8(str(s));
      const n = num(length) ?? 0;
      if (n < 0) throw new ExecFailure('error calling truncate: slice bounds out of range');
      return bytes.length < n ? str(s) : new TextDecoder().decode(bytes.slice(0, n));
    },
  },
  // text/template builtins
  print: { sig: { params: [], variadic: 'any' }, fn: (...args) => sprint(args) },
  println: { sig: { params: [], variadic: 'any' }, fn: (...args) => `${args.map((a) => printValue(a)).join(' ')}\n` },
  printf: { sig: { params: ['string'], variadic: 'any' }, fn: (format, ...args) => sprintf(str(format), args) },
  len: {
    sig: { params: ['any'] },
    fn: (v) => {
      if (typeof v === 'string') return utf8(v).length;
      if (Array.isArray(v)) return v.length;
      if (v instanceof Map || v instanceof Set) return v.size;
      if (isPlainObject(v)) return Object.keys(v).length;
      throw new ExecFailure(`error calling len: len of type ${typeName(v)}`);
    },
  },
  index: {
    sig: { params: ['any'], variadic: 'any' },
    fn: (item, ...keys) => keys.reduce((acc, k) => indexInto(acc, k), item),
  },
  slice: { sig: { params: ['any'], variadic: 'any' }, fn: (item, ...indexes) => sliceOf(item, indexes) },
  not: { sig: { params: ['any'] }, fn: (v) => !truth(v) },
  eq: {
    sig: { params: ['any'], variadic: 'any' },
    fn: (a, ...rest) => {
      if (rest.length === 0) throw new ExecFailure('error calling eq: missing argument for comparison');
      return rest.some((b) => basicEqual(a, b));
    },
  },
  ne: { sig: { params: ['any', 'any'] }, fn: (a, b) => !basicEqual(a, b) },
  lt: { sig: { params: ['any', 'any'] }, fn: (a, b) => compareArgs(a, b, 'lt') < 0 },
  le: { sig: { params: ['any', 'any'] }, fn: (a, b) => compareArgs(a, b, 'le') <= 0 },
  gt: { sig: { params: ['any', 'any'] }, fn: (a, b) => compareArgs(a, b, 'gt') > 0 },
  ge: { sig: { params: ['any', 'any'] }, fn: (a, b) => compareArgs(a, b, 'ge') >= 0 },
  html: { sig: { params: [], variadic: 'any' }, fn: (...args) => htmlEscape(sprint(args)) },
  js: { sig: { params: [], variadic: 'any' }, fn: (...args) => jsEscape(sprint(args)) },
  urlquery: { sig: { params: [], variadic: 'any' }, fn: (...args) => queryEscape(sprint(args)) },
  call: {
    sig: { params: ['any'], variadic: 'any' },
    fn: (f, ...args) => {
      if (typeof f !== 'function') throw new ExecFailure(`error calling call: non-function of type ${typeName(f)}`);
      return (f as TemplateFunction)(...args);
    },
  },
};

// `and` and `or` short-circuit on unevaluated arguments, so the executor handles them.
const FUNCTION_NAMES: ReadonlySet<string> = new Set([...Object.keys(FUNCTIONS), 'and', 'or']);

// docker's HeaderFunctions: these pass the header text through untouched (pad is deliberately not among them),
// with their own signatures (string in, string out).
const HEADER_FUNCTIONS: Readonly<Record<string, Signature>> = {
  json: { params: ['string'] },
  split: { params: ['string', 'string'] },
  join: { params: ['string', 'string'] },
  title: { params: ['string'] },
  lower: { params: ['string'] },
  upper: { params: ['string'] },
  truncate: { params: ['string', 'int'] },
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

const MAX_TEMPLATE_DEPTH = 10_000;

/** An argument on its way to a function: its value and, for literals and nodes, where it was written. */
interface Arg {
  readonly value: unknown;
  readonly node?: Operand;
}

class Executor {
  private readonly out: string[] = [];
  private vars: Array<[string, unknown]> = [];
  private root: unknown;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly defines: ReadonlyMap<string, Node[]>,
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
        case 'template':
          this.template(node, dot);
          break;
        case 'break':
          throw new BreakSignal();
        case 'continue':
          throw new ContinueSignal();
      }
    }
  }

  private template(node: Extract<Node, { kind: 'template' }>, dot: unknown): void {
    const body = this.defines.get(node.name);
    if (body === undefined) this.fail(node.pos, node.text, `template "${node.name}" not defined`);
    const data = node.pipe === undefined ? undefined : this.pipeline(node.pipe, dot);
    if (++this.depth > MAX_TEMPLATE_DEPTH)
      this.fail(node.pos, node.text, `exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
    const saved = this.vars;
    this.vars = [['$', data]];
    try {
      this.walk(body, data);
    } finally {
      this.vars = saved;
      this.depth--;
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
    else {
      // Go reports the node it evaluated last: the pipeline's final operand.
      const last = node.pipe.cmds[node.pipe.cmds.length - 1];
      const at = last?.args.length === 1 ? (last.args[0] as Operand) : undefined;
      this.fail(at?.pos ?? node.pipe.pos, at?.text ?? node.pipe.text, `range can't iterate over ${printValue(value)}`);
    }
    if (entries.length === 0) {
      this.vars.length = mark;
      if (node.elseList) this.walk(node.elseList, dot);
      return;
    }
    for (const [key, elem] of entries) {
      this.vars.length = mark;
      const at = node.pipe.cmds[0]?.args[0];
      if (decl.length === 1) this.setVar(decl[0] as string, elem, node.pipe.assign, at);
      if (decl.length === 2) {
        this.setVar(decl[0] as string, key, node.pipe.assign, at);
        this.setVar(decl[1] as string, elem, node.pipe.assign, at);
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

  private setVar(name: string, value: unknown, assign: boolean, at?: { text: string; pos: number }): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        const entry = this.vars[i] as [string, unknown];
        if (entry[0] === name) {
          entry[1] = value;
          return;
        }
      }
      this.fail(at?.pos ?? 0, at?.text ?? name, `undefined variable: ${name}`);
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
    if (pipe.decl.length === 1) this.setVar(pipe.decl[0] as string, value, pipe.assign, pipe.cmds[0]?.args[0]);
    return value;
  }

  private command(cmd: Command, dot: unknown, piped: { value: unknown } | undefined): unknown {
    const head = cmd.args[0] as Operand;
    if (head.kind === 'func') return this.call(head, cmd, cmd.args.slice(1), dot, piped);
    if (head.kind === 'literal' && head.value === null) return this.fail(head.pos, 'nil', 'nil is not a command');
    if (cmd.args.length > 1 || piped !== undefined) {
      // Arguments to a field are a method call: `.Method arg`.
      if (head.kind === 'field' || head.kind === 'var' || (head.kind === 'pipe' && head.chain.length > 0)) {
        const extra = cmd.args.slice(1).map((a) => this.evalArg(a, dot));
        if (piped) extra.push(piped.value);
        return this.evalOperand(head, dot, extra);
      }
      return this.fail(head.pos, head.text, `can't give argument to non-function ${head.text}`);
    }
    return this.evalOperand(head, dot, undefined);
  }

  private call(
    fn: Extract<Operand, { kind: 'func' }>,
    cmd: Command,
    argNodes: Operand[],
    dot: unknown,
    piped: { value: unknown } | undefined,
  ): unknown {
    const name = fn.name;
    const where = cmd.text;
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
    const headerSig = this.header !== undefined ? HEADER_FUNCTIONS[name] : undefined;
    const entry = FUNCTIONS[name] as { sig: Signature; fn: TemplateFunction };
    const sig = headerSig ?? entry.sig;
    const count = argNodes.length + (piped ? 1 : 0);
    if (sig.variadic === undefined ? count !== sig.params.length : count < sig.params.length) {
      const want = sig.variadic === undefined ? `${sig.params.length}` : `at least ${sig.params.length}`;
      this.fail(fn.pos, name, `wrong number of args for ${name}: want ${want} got ${count}`);
    }
    const args: Arg[] = argNodes.map((a) => ({ value: this.evalArg(a, dot), node: a }));
    if (piped) args.push({ value: piped.value });
    const values = args.map((a, i) => this.checkType(a, sig.params[i] ?? sig.variadic ?? 'any', cmd));
    if (headerSig !== undefined) return values[0];
    if (name === 'json') {
      const context = this.contextJson(values[0]);
      if (context !== undefined) return context;
    }
    if (name === 'index' && args[0]?.node?.kind === 'literal' && values[0] === null) {
      this.fail(cmd.pos, where, 'error calling index: index of untyped nil');
    }
    try {
      return entry.fn(...values);
    } catch (error) {
      if (error instanceof ExecFailure) return this.fail(cmd.pos, where, error.message);
      // Anything else a function throws is still the template's error, never a crash.
      return this.fail(cmd.pos, where, `error calling ${name}: ${(error as Error).message}`);
    }
  }

  /** Go's argument checks: literals of the wrong kind, values of the wrong type, missing values. */
  private checkType(arg: Arg, type: ParamType, cmd: Command): unknown {
    const { value, node } = arg;
    if (type === 'any') return value;
    const at = node ?? { pos: cmd.pos, text: cmd.text };
    if (node?.kind === 'literal') {
      if (value === null) this.fail(at.pos, at.text, `cannot assign nil to ${type}`);
      if (type === 'string' && typeof value !== 'string')
        this.fail(at.pos, at.text, `expected string; found ${node.text}`);
      if (
        type === 'int' &&
        !(typeof value === 'number' || (value instanceof GoFloat && Number.isInteger(value.value)))
      ) {
        this.fail(at.pos, at.text, `expected integer; found ${node.text}`);
      }
      if (type === '[]string') this.fail(at.pos, at.text, `can't handle ${node.text} for arg of type []string`);
      return value instanceof GoFloat ? value.value : value;
    }
    if (value === undefined || value === null) {
      if (type === '[]string') return [];
      return this.fail(at.pos, at.text, `invalid value; expected ${type}`);
    }
    const ok =
      (type === 'string' && (typeof value === 'string' || value instanceof HeaderGuess)) ||
      (type === 'int' && typeof value === 'number' && Number.isInteger(value)) ||
      (type === '[]string' && Array.isArray(value) && value.every((x) => typeof x === 'string'));
    if (!ok) this.fail(at.pos, at.text, `wrong type for value; expected ${type}; got ${typeName(value)}`);
    return value;
  }

  private evalArg(a: Operand, dot: unknown): unknown {
    if (a.kind === 'func') {
      return this.call(a, { args: [a], pos: a.pos, text: a.text }, [], dot, undefined);
    }
    return this.evalOperand(a, dot, undefined);
  }

  private evalOperand(a: Operand, dot: unknown, callArgs: unknown[] | undefined): unknown {
    switch (a.kind) {
      case 'literal':
        return a.value;
      case 'dot':
        return dot;
      case 'field':
        if (this.header !== undefined) return this.headerFor(a.chain);
        return this.chain(dot, a.chain, a, callArgs);
      case 'var': {
        const base = this.getVar(a.name, a.pos);
        if (this.header !== undefined && a.name === '$' && a.chain.length > 0) return this.headerFor(a.chain);
        return this.chain(base, a.chain, a, callArgs);
      }
      case 'pipe': {
        const v = this.pipeline(a.pipeline, dot);
        // Go reports a failing link after `( … )` at the last node it evaluated inside.
        const lastCmd = a.pipeline.cmds[a.pipeline.cmds.length - 1];
        const inner = lastCmd?.args.length === 1 ? lastCmd.args[0] : undefined;
        return this.chain(v, a.chain, inner ?? a, callArgs);
      }
      case 'func':
        return this.call(a, { args: [a], pos: a.pos, text: a.text }, [], dot, undefined);
    }
  }

  private headerFor(chain: string[]): unknown {
    const headers = this.header?.headers ?? {};
    const full = chain.join('.');
    if (Object.hasOwn(headers, full)) return headers[full];
    const last = chain[chain.length - 1] ?? '';
    return new HeaderGuess(headerFromField(last));
  }

  private chain(
    receiver: unknown,
    chain: string[],
    at: { readonly pos: number; readonly text: string },
    callArgs: unknown[] | undefined,
  ): unknown {
    let v = receiver;
    chain.forEach((name, i) => {
      const isLast = i === chain.length - 1;
      v = this.field(v, name, at.pos, at.text, isLast ? callArgs : undefined);
    });
    if (chain.length === 0 && callArgs !== undefined && callArgs.length > 0) {
      this.fail(at.pos, at.text, `can't give argument to non-function ${at.text}`);
    }
    return v;
  }

  private field(receiver: unknown, name: string, pos: number, what: string, args: unknown[] | undefined): unknown {
    if (receiver === undefined) return undefined;
    if (receiver === null) return this.fail(pos, what, `nil pointer evaluating interface {}.${name}`);
    if (receiver instanceof Map)
      return receiver.has(name) ? receiver.get(name) : this.missing(receiver, name, pos, what, true);
    if (typeof receiver !== 'object' || Array.isArray(receiver) || receiver instanceof GoFloat) {
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

  /** `{{json .}}` of a formatter row marshals like docker's contexts (see {@link ExecuteOptions.contextRows}). */
  contextJson(value: unknown): string | undefined {
    return this.options.contextRows === true && value === this.root ? toContextJson(value) : undefined;
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
  let defines: ReadonlyMap<string, Node[]>;
  try {
    const parser = new Parser(source, segment(source), FUNCTION_NAMES);
    nodes = parser.parse();
    defines = parser.defines;
  } catch (error) {
    if (error instanceof ParseFailure) throw new TemplateError(`template parsing error: ${error.message}`);
    throw error;
  }
  return {
    source,
    execute(data: unknown, options: ExecuteOptions = {}): string {
      try {
        return new Executor(source, defines, options, undefined).run(nodes, data);
      } catch (error) {
        if (error instanceof ExecFailure) throw new TemplateError(`template parsing error: ${error.message}`);
        if (error instanceof BreakSignal || error instanceof ContinueSignal) return '';
        throw error;
      }
    },
    executeHeader(headers: Readonly<Record<string, string>> = {}): string {
      const executor = new Executor(source, defines, {}, { headers });
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
