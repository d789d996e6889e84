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
