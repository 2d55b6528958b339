/**
 * An image on a message reaches a vision model, end to end: a photo sent through the Telegram stand-in (real
 * grammY, `getFile` and the file host), the whole bot with the LLM plugin, and the OpenAI and Ollama stand-ins,
 * which record the images as their wire formats carry them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLlmPlugin } from "../../../llm/index.ts";
import { startOllamaStandIn, type OllamaStandIn } from "../../stand-ins/ollama/server.ts";
import { recordedImages } from "../../stand-ins/openai/script.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { startTelegramBot, type TelegramBot } from "../telegram/bot.ts";

const USER = 5151;
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

let openai: OpenAiStandIn;
let ollama: OllamaStandIn;

beforeAll(async () => {
  [openai, ollama] = await Promise.all([startOpenAiStandIn(), startOllamaStandIn()]);
});

afterAll(async () => {
  await Promise.all([openai?.close(), ollama?.close()]);
});

const providers = [
  {
    name: "openai",
    model: () => ({ provider: "openai", model: "stand-vision", baseUrl: openai.baseUrl, apiKey: "k", stream: false }),
    script: () => openai.script,
  },
  {
    name: "ollama",
    model: () => ({ provider: "ollama", model: "stand-vision", host: ollama.host, stream: false }),
    script: () => ollama.script,
  },
];

describe.each(providers)("images to a vision model on $name", ({ model, script }) => {
  let bot: TelegramBot;

  beforeAll(async () => {
    bot = await startTelegramBot({
      set: {
        "llm.editIntervalMs": 0,
        "llm.models": [{ name: "eyes", capabilities: ["chat", "vision"], ...model() }],
        "llm.profiles": { default: { models: ["eyes"] } },
      },
      plugins: [(core) => createLlmPlugin(core)],
    });
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
  });

  async function sendPhoto(caption: string | undefined): Promise<void> {
    const answers = bot.standIn.messagesIn(USER).length;
    bot.standIn.queueFile({
      chatId: USER,
      userId: USER,
      name: "photo.jpg",
      mimeType: "image/jpeg",
      bytes: PNG,
      asPhoto: true,
      ...(caption === undefined ? {} : { caption }),
    });
    await bot.standIn.waitFor(() => bot.standIn.messagesIn(USER).length > answers, 15_000, "the answer");
  }

  it("sends the photo on a message to a vision model, with its caption", async () => {
    script().push("stand-vision", { kind: "text", text: "A single pixel." });
    const before = script().requests.length;
    await sendPhoto("what is this?");
    const req = script()
      .requests.slice(before)
      .find((r) => r.model === "stand-vision")!;
    const images = recordedImages(req);
    expect(images).toHaveLength(1);
    expect(images[0]!.bytes.equals(PNG)).toBe(true);
    expect(JSON.stringify(req.messages.at(-1))).toContain("what is this?");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toContain("A single pixel.");
  });

  it("answers a photo with no caption, and does not store the image for the next turn", async () => {
    await sendPhoto(undefined);
    const before = script().requests.length;
    bot.standIn.queueMessage({ chatId: USER, userId: USER, text: "and now?" });
    await bot.standIn.waitFor(() => script().requests.length > before, 15_000, "the next turn");
    expect(recordedImages(script().requests.at(-1)!)).toEqual([]);
  });
});
