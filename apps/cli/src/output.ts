// docker's output helpers, from the format module (apps/cli/src/format): Go-template --format, human sizes and times.
export {
  alignColumns,
  compileTemplate,
  createdSince,
  displaySize,
  humanDuration,
  humanSize,
  isTableFormat,
  renderFormat,
  TemplateError,
  truncateId,
} from './format/index.js';

/** docker's `CreatedAt` text of a time: `2024-01-02 03:04:05 +0000 UTC` (Go's `time.Time.String()`, in UTC). */
export function goTimeString(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}

/** docker's `stringutils.Ellipsis`: at most `max` characters, the last one `…` when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Go's `json.Indent`: the same tokens (numbers and strings byte for byte), one element per line, `indent` per level,
 * `[]`/`{}` kept compact, leading whitespace dropped and trailing whitespace kept — what `docker manifest inspect`
 * prints for a manifest's raw bytes.
 */
export function indentJson(text: string, indent: string): string {
  const start = text.search(/\S/);
  const end = text.search(/\s*$/);
  const body = start < 0 ? '' : text.slice(start, end);
  let out = '';
  let depth = 0;
  let needIndent = false;
  const newline = () => `\n${indent.repeat(depth)}`;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      out += newline();
      needIndent = false;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < body.length && body[j] !== '"') j += body[j] === '\\' ? 2 : 1;
      out += body.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') {
      out += c;
      depth++;
      needIndent = true;
    } else if (c === '}' || c === ']') {
      depth--;
      if (needIndent) needIndent = false;
      else out += newline();
      out += c;
    } else if (c === ',') {
      out += `,${newline()}`;
    } else if (c === ':') {
      out += ': ';
    } else {
      out += c;
    }
  }
  return out + text.slice(end);
}
