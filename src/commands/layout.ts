// Text layout for reports: aligned columns whose widths follow the longest cell, and a last
// column that wraps under itself on a narrow terminal. Pure functions: no I/O, no AWS.

/**
 * The width to lay text out in: the terminal's columns, else $COLUMNS, else none (a log file or a
 * pipe keeps whole lines, so that grep finds a finding on one line).
 */
export function outputWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout, env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (stream.isTTY && stream.columns) return stream.columns;
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

/** Break text into lines of at most `width` characters, at spaces; a longer word is cut. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0 || !Number.isFinite(width) || text.length <= width) return [text];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    let rest = word;
    while (rest.length > width) {
      if (line) lines.push(line);
      line = '';
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    if (!line) line = rest;
    else if (line.length + 1 + rest.length <= width) line += ` ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/** Cut text to `width` characters, ending in "…" when something was cut. */
export function truncate(text: string, width: number | undefined): string {
  if (!width || text.length <= width) return text;
  return width <= 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

export interface ColumnOptions {
  /** Printed before every line. */
  indent?: string;
  gap?: string;
  /** Total width; the last column wraps within it (never narrower than `minLast`). */
  width?: number;
  minLast?: number;
  /** Columns (by index, not the last) never wider than this; a longer cell pushes its line's rest right. */
  maxWidths?: Array<number | undefined>;
}

/**
 * Rows as aligned columns: each column but the last as wide as its longest cell (up to its
 * maxWidth); the last column wraps under itself when the line would pass `width`.
 */
export function columns(rows: string[][], options: ColumnOptions = {}): string[] {
  const { indent = '', gap = '  ', width, minLast = 30, maxWidths = [] } = options;
  if (!rows.length) return [];
  const count = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: count - 1 }, (_, i) => {
    const longest = Math.max(0, ...rows.map((r) => (i < r.length - 1 ? (r[i] ?? '').length : 0)));
    return maxWidths[i] !== undefined ? Math.min(longest, maxWidths[i]!) : longest;
  });
  const lines: string[] = [];
  for (const row of rows) {
    let prefix = indent;
    for (let i = 0; i < row.length - 1; i++) {
      const cell = row[i] ?? '';
      // A cell wider than its column: the rest of the line starts after it.
      prefix += cell.length > widths[i] ? `${cell}${gap}` : `${cell.padEnd(widths[i])}${gap}`;
    }
    const last = row[row.length - 1] ?? '';
    if (!width) {
      lines.push(`${prefix}${last}`.trimEnd());
      continue;
    }
    const room = Math.max(minLast, width - prefix.length);
    const [first, ...more] = wrap(last, room);
    lines.push(`${prefix}${first}`.trimEnd());
    const under = ' '.repeat(prefix.length);
    for (const line of more) lines.push(`${under}${line}`);
  }
  return lines;
}

/** "1 change", "2 changes". */
export const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
