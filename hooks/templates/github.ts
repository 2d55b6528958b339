/** GitHub's webhooks: push, pull_request, workflow_run, release (and ping); other events in one line. */
import { capped, esc, link, listOf, pick } from "./text.ts";

/** Render a GitHub event (`event` is the `X-GitHub-Event` header). */
export function renderGithub(payload: unknown, event: string): string {
  const repo = link(pick(payload, "repository.full_name") ?? "repository", pick(payload, "repository.html_url"));
  const who = esc(pick(payload, "sender.login") ?? "someone", 60);
  switch (event) {
    case "ping":
      return `${repo}: GitHub hook is set up (${esc(pick(payload, "zen"), 120)})`;
    case "push": {
      const ref = String(pick(payload, "ref") ?? "");
      const branch = esc(ref.replace(/^refs\/(heads|tags)\//, ""), 100);
      const commits = listOf(pick(payload, "commits"));
      const lines = [
        `**${repo}**: ${esc(pick(payload, "pusher.name") ?? who, 60)} pushed ${commits.length} commit${
          commits.length === 1 ? "" : "s"
        } to ${branch}`,
      ];
      const items = commits.map((c) => {
        const sha = String(pick(c, "id") ?? "").slice(0, 7);
        const message = String(pick(c, "message") ?? "").split("\n", 1)[0];
        return `- ${link(/^[0-9a-f]{1,7}$/.test(sha) ? sha : "commit", pick(c, "url"))} ${esc(message, 120)} — ${esc(
          pick(c, "author.name") ?? pick(c, "author.username"),
          60,
        )}`;
      });
      lines.push(...capped(items, 5));
      const compare = pick(payload, "compare");
      if (compare !== undefined) lines.push(link("compare", compare));
      return lines.join("\n");
    }
    case "pull_request": {
      const action = esc(pick(payload, "action"), 30);
      const merged = pick(payload, "pull_request.merged") === true && pick(payload, "action") === "closed";
      const number = esc(pick(payload, "number") ?? pick(payload, "pull_request.number"), 12);
      const title = link(
        `#${String(number)} ${String(pick(payload, "pull_request.title") ?? "")}`,
        pick(payload, "pull_request.html_url"),
      );
      return `**${repo}**: ${who} ${merged ? "merged" : action} pull request ${title}`;
    }
    case "workflow_run": {
      const run = pick(payload, "workflow_run");
      const conclusion = pick(run, "conclusion") ?? pick(run, "status") ?? pick(payload, "action");
      const icon = conclusion === "success" ? "✅" : conclusion === "failure" ? "❌" : "⏳";
      return `${icon} **${repo}**: workflow ${link(pick(run, "name") ?? "run", pick(run, "html_url"))} ${esc(
        conclusion,
        30,
      )} on ${esc(pick(run, "head_branch"), 100)}`;
    }
    case "release": {
      const action = esc(pick(payload, "action"), 30);
      const name = pick(payload, "release.name") ?? pick(payload, "release.tag_name") ?? "release";
      return `**${repo}**: ${who} ${action} release ${link(name, pick(payload, "release.html_url"))}`;
    }
    default:
      return `**${repo}**: ${esc(event || "unknown", 40)} event by ${who}${
        pick(payload, "action") === undefined ? "" : ` (${esc(pick(payload, "action"), 30)})`
      }`;
  }
}
