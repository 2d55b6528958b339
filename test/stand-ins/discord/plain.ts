/**
 * What a Discord client shows for a message's markdown, as plain text: escapes undone, `**`/`_` markers
 * dropped, code spans and fenced blocks kept verbatim, masked links shown as their label, zero-width spaces
 * (used to defuse `@everyone` and nested fences) removed. Enough of Discord's renderer for our subset.
 */
export function discordToPlain(raw: string): string {
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i]!;
    if (raw.startsWith("```", i)) {
      const bodyStart = raw.indexOf("\n", i) + 1;
      const end = raw.indexOf("\n```", bodyStart - 1);
      if (bodyStart > 0 && end !== -1) {
        out += raw.slice(bodyStart, end).replace(/`\u200b``/g, "```");
        i = end + 4;
        continue;
      }
    }
    if (ch === "\\" && i + 1 < raw.length) {
      out += raw[i + 1];
      i += 2;
      continue;
    }
    if (raw.startsWith("`` ", i)) {
      const end = raw.indexOf(" ``", i + 3);
      if (end !== -1) {
        out += raw.slice(i + 3, end).replace(/`\u200b`/g, "``");
        i = end + 3;
        continue;
      }
    }
    if (ch === "`") {
      const end = raw.indexOf("`", i + 1);
      if (end !== -1) {
        out += raw.slice(i + 1, end);
        i = end + 1;
        continue;
      }
    }
    if (raw.startsWith("**", i)) {
      i += 2;
      continue;
    }
    if (ch === "_") {
      i += 1;
      continue;
    }
    if (ch === "[") {
      const close = findLabelEnd(raw, i + 1);
      if (close !== -1 && raw[close + 1] === "(") {
        const urlEnd = raw.indexOf(")", close + 2);
        if (urlEnd !== -1) {
          out += discordToPlain(raw.slice(i + 1, close));
          i = urlEnd + 1;
          continue;
        }
      }
    }
    if (ch !== "\u200b") out += ch;
    i += 1;
  }
  return out;
}

function findLabelEnd(raw: string, from: number): number {
  for (let j = from; j < raw.length; j++) {
    if (raw[j] === "\\") {
      j++;
      continue;
    }
    if (raw[j] === "]") return j;
  }
  return -1;
}
