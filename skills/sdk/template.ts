/**
 * The files `switchboard-skill init <name>` writes: a TypeScript skill on the SDK (a command and an LLM tool), a
 * test script, a tsconfig for editors, a README. The package depends on the SDK and esbuild (the bundler `build`
 * uses), as devDependencies: its `build`, `check`, `test` and `prepublishOnly` scripts run the SDK's own
 * `switchboard-skill` bin.
 */

/** What the template needs to know. */
export interface TemplateOptions {
  /** npm package name. */
  name: string;
  /** The skill's name in chats (derived from the package name). */
  skillName: string;
  /** The SDK package the skill depends on, and the esbuild range its `build` uses. */
  sdk: { name: string; version: string; esbuild: string };
}

/** Relative path → content for a new skill package. */
export function skillTemplate({ name, skillName, sdk }: TemplateOptions): Record<string, string> {
  const command = skillName.replace(/[^a-z0-9_-]/g, "-").slice(0, 32);
  return {
    "package.json": `${JSON.stringify(
      {
        name,
        version: "0.1.0",
        description: `${skillName}: a Switchboard skill`,
        keywords: ["switchboard-skill"],
        license: "MIT",
        type: "module",
        files: ["dist/", "README.md", "CHANGELOG.md"],
        scripts: {
          build: "switchboard-skill build",
          check: "switchboard-skill check",
          test: "switchboard-skill test test/conversation.json",
          prepublishOnly: "switchboard-skill build && switchboard-skill check",
        },
        devDependencies: { [sdk.name]: `^${sdk.version}`, esbuild: sdk.esbuild },
        switchboard: {
          manifestVersion: 1,
          entry: "dist/index.js",
          description: `${skillName} for Switchboard`,
          commands: [
            {
              name: command,
              description: `Say hello from ${skillName}`,
              args: [{ name: "who", description: "Who to greet", type: "string", required: false, rest: true }],
            },
          ],
          tools: [
            {
              name: "greeting",
              description: "Write a greeting for someone",
              parameters: {
                type: "object",
                properties: { who: { type: "string", description: "Who to greet" } },
                required: ["who"],
              },
            },
          ],
          permissions: { storage: true },
        },
      },
      null,
      2,
    )}\n`,
    "src/index.ts": `/**
 * ${skillName}: answers /${command} [who] and counts greetings per chat (storage permission); offers the
 * language model a \`greeting\` tool.
 * Build: \`npm run build\` bundles this file into dist/index.js (the manifest's entry).
 */
import { defineSkill } from "${sdk.name}";

export default defineSkill({
  commands: {
    ${JSON.stringify(command)}: async (ctx) => {
      const count = ((await ctx.storage.get<number>("count")) ?? 0) + 1;
      await ctx.storage.set("count", count);
      const who = ctx.rawArgs.trim() === "" ? ctx.user.name : ctx.rawArgs.trim();
      return \`Hello \${who}! (#\${count} in this chat)\`;
    },
  },
  tools: {
    greeting: async (args: { who: string }) => \`Hello \${args.who}!\`,
  },
});
`,
    "test/conversation.json": `${JSON.stringify(
      {
        description: `${skillName} greets, counts, and writes greetings for the model`,
        steps: [
          { send: `/${command}`, expect: "Hello Tester! (#1 in this chat)" },
          { send: `/${command} world`, expect: "Hello world! (#2 in this chat)" },
          { tool: "greeting", args: { who: "Ada" }, expect: "Hello Ada!" },
        ],
      },
      null,
      2,
    )}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022"],
          module: "ESNext",
          moduleResolution: "Bundler",
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        include: ["src"],
      },
      null,
      2,
    )}\n`,
    "CHANGELOG.md": "# Changelog\n\n## 0.1.0\n\n- First release.\n",
    "README.md": `# ${name}

A Switchboard skill. \`/${command} [who]\` greets and counts greetings per chat; the \`greeting\` tool lets the
language model write greetings.

\`\`\`sh
npm install                                  # the SDK (${sdk.name}): types, and the switchboard-skill CLI
npm run build                                # bundle src/index.ts into dist/index.js
npm test                                     # play test/conversation.json (chat lines and tool calls)
npm run check                                # validate the package as the installer would
npm publish --registry <your registry>       # ship it (builds and checks first)
\`\`\`
`,
    ".gitignore": "node_modules/\ndata/\n",
  };
}
