/** CSV for the admin API's exports (RFC 4180), the one place cells are quoted. */

/**
 * One CSV cell: quoted when it holds a quote, comma or line break; a leading `=`, `+`, `@`, tab, or `-` not
 * starting a number is prefixed with `'`, so a spreadsheet shows it as text instead of running it as a formula.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (/^[=+@\t\r]|^-(?!\d)/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows of cells as one CSV text, CRLF line ends, header first. */
export function csvOf(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `${[header.map(csvCell).join(","), ...rows.map((r) => r.map(csvCell).join(","))].join("\r\n")}\r\n`;
}
