/** The files `switchboard skill init <name>` writes: a TypeScript skill on the SDK, a test conversation, a README. */

/** Relative path → content for a new skill package named `name` (npm name; the skill name is derived). */
export function skillTemplate(name: string, skillName: string): Record<string, string> {
  const command = skillName.replace(/[^a-z0-9_-]/g, "-").slice(0, 32);
  return {
    "package.json": `${JSON.stringify(
      {
        name,
        version: "0.1.0",
        description: `${skillName}: a Switchboard skill`,
        keywords: ["switchboard-skill"],
        license: "MIT",
        files: ["dist/", "README.md", "CHANGELOG.md"],
        scripts: {
          build: "switchboard skill build",
          check: "switchboard skill check",
          test: "switchboard skill test test/conversation.json",
          prepublishOnly: "switchboard skill build && switchboard skill check",
        },
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
          permissions: { storage: true },
        },
      },
      null,
      2,
    )}\n`,
    "src/index.ts": `/**
 * ${skillName}: answers /${command} [who] and counts greetings per chat (storage permission).
 * Build: \`switchboard skill build\` bundles this file into dist/index.js (the manifest's entry).
 */
import { defineSkill } from "switchboard/skills/sdk";

export default defineSkill({
  commands: {
    ${JSON.stringify(command)}: async (ctx) => {
      const count = ((await ctx.storage.get<number>("count")) ?? 0) + 1;
      await ctx.storage.set("count", count);
      const who = ctx.rawArgs.trim() === "" ? ctx.user.name : ctx.rawArgs.trim();
      return \`Hello \${who}! (#\${count} in this chat)\`;
    },
  },
});
`,
    "test/conversation.json": `${JSON.stringify(
      {
        description: `${skillName} greets and counts`,
        steps: [
          { send: `/${command}`, expect: "Hello Tester! (#1 in this chat)" },
          { send: `/${command} world`, expect: "Hello world! (#2 in this chat)" },
        ],
      },
      null,
      2,
    )}\n`,
    "CHANGELOG.md": "# Changelog\n\n## 0.1.0\n\n- First release.\n",
    "README.md": `# ${name}

A Switchboard skill. \`/${command} [who]\` greets and counts greetings per chat.

\`\`\`sh
switchboard skill build                          # bundle src/index.ts into dist/index.js
switchboard skill check                          # validate as the installer would
switchboard skill test test/conversation.json    # run it in the real runtime
npm publish --registry <your registry>           # ship it
\`\`\`
`,
    ".gitignore": "node_modules/\ndata/\n",
  };
}
