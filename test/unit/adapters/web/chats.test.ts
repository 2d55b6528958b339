import { describe, expect, it } from "vitest";
import { DEFAULT_WEB_CHAT_LIMITS, type WebChatLimits } from "../../../../adapters/web/index.ts";
import { WebChats } from "../../../../adapters/web/chats.ts";

function chatsWith(limits: Partial<WebChatLimits>) {
  const clock = { ms: 1_000_000 };
  const chats = new WebChats({ limits: { ...DEFAULT_WEB_CHAT_LIMITS, ...limits }, now: () => clock.ms });
  return { chats, clock };
}

const reader = { wake: () => undefined };

describe("web chats' bounds", () => {
  it("keeps at most maxEventsPerChat events, the newest", () => {
    const { chats } = chatsWith({ maxEventsPerChat: 3 });
    const chat = chats.open("telegram.1") as Exclude<ReturnType<typeof chats.open>, string>;
    for (let i = 0; i < 5; i++) chats.push(chat, { type: "said", text: `m${i}` });
    expect(chat.events.map((e) => e.text)).toEqual(["m2", "m3", "m4"]);
    expect(chat.after(0).map((e) => e.id)).toEqual([3, 4, 5]);
  });

  it("drops events older than eventTtlMs, and idle chats with no stream", () => {
    const { chats, clock } = chatsWith({ eventTtlMs: 1_000 });
    const chat = chats.open("telegram.1") as Exclude<ReturnType<typeof chats.open>, string>;
    chats.push(chat, { type: "said", text: "old" });
    clock.ms += 1_500;
    chats.push(chat, { type: "said", text: "new" });
    expect(chat.events.map((e) => e.text)).toEqual(["new"]);
    const watched = chats.open("telegram.2") as Exclude<ReturnType<typeof chats.open>, string>;
    expect(chats.attach("s1", watched, reader)).toBe("ok");
    clock.ms += 5_000;
    chats.sweep();
    expect(chats.get("telegram.1")).toBeUndefined();
    expect(chats.get("telegram.2")).toBe(watched);
  });

  it("coalesces unread edits of one message to the latest", () => {
    const { chats } = chatsWith({});
    const chat = chats.open("telegram.1") as Exclude<ReturnType<typeof chats.open>, string>;
    chats.push(chat, { type: "message", messageId: "b1", html: "a" });
    for (const html of ["ab", "abc", "abcd"]) chats.push(chat, { type: "edit", messageId: "b1", html });
    expect(chat.events.map((e) => e.html)).toEqual(["a", "abcd"]);
    expect(chat.unread()).toBe(2);
  });

  it("makes room for a new chat from the longest idle one without a stream, and refuses when all have one", () => {
    const { chats, clock } = chatsWith({ maxChats: 2 });
    chats.open("a");
    clock.ms += 10;
    chats.open("b");
    clock.ms += 10;
    chats.open("c");
    expect(chats.get("a")).toBeUndefined();
    expect(chats.size).toBe(2);
    for (const id of ["b", "c"]) chats.attach(`s-${id}`, chats.get(id)!, { wake: () => undefined });
    expect(chats.open("d")).toBe("too-many-chats");
  });

  it("bounds streams per session and in all", () => {
    const { chats } = chatsWith({ maxStreamsPerSession: 2, maxStreams: 3 });
    const chat = chats.open("a") as Exclude<ReturnType<typeof chats.open>, string>;
    const readers = Array.from({ length: 4 }, () => ({ wake: () => undefined }));
    expect(chats.attach("s1", chat, readers[0]!)).toBe("ok");
    expect(chats.attach("s1", chat, readers[1]!)).toBe("ok");
    expect(chats.attach("s1", chat, readers[2]!)).toBe("too-many-streams");
    expect(chats.attach("s2", chat, readers[2]!)).toBe("ok");
    expect(chats.attach("s3", chat, readers[3]!)).toBe("too-many-streams");
    chats.detach("s1", chat, readers[0]!);
    expect(chats.attach("s3", chat, readers[3]!)).toBe("ok");
    expect(chats.streams).toBe(3);
  });
});
