/**
 * The hook templates against hostile payloads: random shapes built from seeded hostile atoms (deep nesting, huge
 * strings, template syntax, markup, mass mentions of every platform, prototype keys, controls and bidi). Each
 * rendering must not throw, must stay within the length bound, must leave no live mass mention, and every link in
 * it must be http(s); markup inside values must come out as the literal characters.
 */
import { describe, expect, it } from "vitest";
import {
  parseMarkdown,
  plainTextOf,
  renderMarkdown,
  slackMrkdwn,
  telegramHtml,
} from "../../../adapters/shared/index.ts";
import { renderDelivery } from "../../../hooks/index.ts";
import { checkFormat } from "../../../hooks/templates/index.ts";

const ATOMS: unknown[] = [
  "@everyone",
  "@here ping",
  "<!channel>",
  "<!here|here>",
  "<!subteam^S123|@oncall>",
  "<@U0ADMIN>",
  "<@&123456>",
  "**bold** _it_ `code` ```fence```",
  "[click](javascript:alert(1))",
  "[bank](https://evil.example)",
  "{{constructor}} {{{raw}}} {{#a}}x{{/a}} {{> p}} {{=<% %>=}}",
  "\u202eevil\u202c \u0007\u001b[31mred",
  "- list\n# heading\n> quote",
  "x".repeat(300_000),
  "é".repeat(5_000),
  "",
  0,
  -1.5e308,
  true,
  null,
  "javascript:alert(1)",
  "http://ok.example/a(b)c",
];

/** A small seeded generator (mulberry32), so a failure replays. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const KEYS = [
  "alerts",
  "status",
  "labels",
  "annotations",
  "summary",
  "alertname",
  "generatorURL",
  "externalURL",
  "groupLabels",
  "commonLabels",
  "repository",
  "full_name",
  "html_url",
  "commits",
  "message",
  "pull_request",
  "title",
  "workflow_run",
  "release",
  "text",
  "link",
  "panelURL",
  "__proto__",
  "constructor",
  "toString",
];

function hostile(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 6 || r < 0.35) return ATOMS[Math.floor(next() * ATOMS.length)];
  if (r < 0.55) return Array.from({ length: Math.floor(next() * 4) }, () => hostile(next, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 6); i > 0; i--)
    Object.defineProperty(out, KEYS[Math.floor(next() * KEYS.length)]!, {
      value: hostile(next, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** `[[[[…]]]]` nested `depth` levels, parsed from JSON as a delivery is. */
function deep(depth: number): unknown {
  return JSON.parse(`${'{"alerts":'.repeat(depth)}1${"}".repeat(depth)}`);
}

const LIVE_MENTION = /(^|[^\u200b])@(everyone|here|channel|all)\b|<[!@]/;
const HOOKS = [
  { template: "alertmanager", options: {} },
  { template: "github", options: {} },
  { template: "grafana", options: {} },
  { template: "generic", options: {} },
  {
    template: "generic",
    options: { format: "{{title}} — {{#alerts}}{{status}}: {{labels.alertname}}; {{/alerts}}{{text}}" },
  },
  { template: "generic", options: { map: { title: "repository.full_name", text: "commits.0.message", link: "link" } } },
  { template: "workflow", options: {} },
] as const;
const EVENTS = ["push", "pull_request", "workflow_run", "release", "ping", "issues", ""];

function check(text: string): void {
  expect(text.length).toBeLessThanOrEqual(4_000);
  expect(text).not.toMatch(LIVE_MENTION);
  for (const block of parseMarkdown(text)) {
    if (block.kind === "code") continue;
    for (const segment of block.segments) if (segment.link !== undefined) expect(segment.link).toMatch(/^https?:\/\//);
  }
  const html = renderMarkdown(text, telegramHtml);
  expect(html).not.toMatch(/href="(?!https?:)/);
  expect(renderMarkdown(text, slackMrkdwn)).not.toMatch(/<(?!https?:)[^>]*\|/);
}

describe("hook templates under hostile payloads", () => {
  it("render 2,000 random hostile payloads without throwing, injecting or notifying", () => {
    const next = rng(19);
    for (let i = 0; i < 2_000; i++) {
      const hook = HOOKS[i % HOOKS.length]!;
      const payload = hostile(next, 0);
      const text = renderDelivery({
        hook: { name: "fuzz", template: hook.template, options: hook.options },
        payload,
        meta: { event: EVENTS[i % EVENTS.length]!, workflow: "wf" },
        maxChars: 4_000,
      });
      check(text);
    }
  });

  it("render deeply nested payloads in bounded time and size", () => {
    for (const hook of HOOKS) {
      const text = renderDelivery({
        hook: { name: "deep", template: hook.template, options: hook.options },
        payload: deep(5_000),
        meta: { event: "push" },
        maxChars: 4_000,
      });
      check(text);
    }
  });

  it("keep markup, template syntax and mentions in values as literal text", () => {
    const value = "**INJECT** [x](https://evil.example) {{text}} `c` @everyone";
    const cases = [
      {
        template: "alertmanager" as const,
        payload: { status: "firing", alerts: [{ annotations: { summary: value } }] },
      },
      { template: "github" as const, payload: { repository: { full_name: value }, commits: [{ message: value }] } },
      { template: "grafana" as const, payload: { title: value, alerts: [{ annotations: { summary: value } }] } },
      { template: "generic" as const, payload: { title: "t", text: value } },
    ];
    for (const c of cases) {
      const text = renderDelivery({
        hook: { name: "x", template: c.template, options: {} },
        payload: c.payload,
        meta: { event: "push" },
        maxChars: 4_000,
      });
      const plain = plainTextOf(parseMarkdown(text));
      expect(plain, c.template).toContain("**INJECT** [x](https://evil.example) {{text}} `c` @\u200beveryone");
      for (const block of parseMarkdown(text))
        if (block.kind !== "code")
          for (const segment of block.segments)
            if (segment.text.includes("INJECT")) expect(segment.link ?? "", c.template).not.toContain("evil");
    }
  });

  it("refuse Mustache templates that emit raw values, use partials or change delimiters", () => {
    expect(() => checkFormat("{{{raw}}}")).toThrow(/refused/);
    expect(() => checkFormat("{{&raw}}")).toThrow(/refused/);
    expect(() => checkFormat("{{> partial}}")).toThrow(/refused/);
    expect(() => checkFormat("{{=<% %>=}}")).toThrow(/refused/);
    expect(() => checkFormat("{{#unclosed}}")).toThrow(/refused/);
    expect(checkFormat("{{a.b}} {{#list}}{{.}}{{/list}}")).toBe("{{a.b}} {{#list}}{{.}}{{/list}}");
  });

  it("do not reach prototypes from a Mustache template", () => {
    const text = renderDelivery({
      hook: { name: "x", template: "generic", options: { format: "[{{constructor}}][{{toString}}][{{__proto__}}]" } },
      payload: { a: 1 },
      meta: {},
      maxChars: 4_000,
    });
    expect(text).not.toMatch(/function|Object|native/);
  });
});
