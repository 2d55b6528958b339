/**
 * The web chat's conversations in memory: one per signed-in person, each a bounded log of events (messages the
 * bot sent, their edits, what the person said, typing) that the person's open streams read. Bounded by count and
 * by age everywhere: events per chat, unread events per chat, chats, streams per session and in all.
 */

/** One event in a web chat, as its streams send it (`data:` of a server-sent event, as JSON). */
export interface WebChatEvent {
  /** Raised by one with every event of this chat; a stream resumes after the last id it saw. */
  id: number;
  type: "message" | "edit" | "said" | "typing" | "file";
  /** The bot's message (message, edit) or the person's (said). */
  messageId?: string;
  /** The bot's text in the web dialect (escaped HTML with `b`, `i`, `code`, `pre`, `a`); the person's as typed. */
  html?: string;
  text?: string;
  buttons?: Array<Array<{ label: string; data: string }>>;
  /** The files the person sent with what they said (names and sizes only). */
  files?: Array<{ name: string; mimeType: string; size: number }>;
  /** A file the bot sent: `url` downloads it, for this chat's person only, until it ages out. */
  file?: { id: string; name: string; mimeType: string; size: number; url: string };
  /** Epoch ms. */
  at: number;
}

/** The bounds. */
export interface WebChatLimits {
  /** Events kept per chat for streams that resume, and read by none yet at most. */
  maxEventsPerChat: number;
  /** Unread events (sent while no stream reads) past which a send is refused with a retry-after. */
  maxUnreadEvents: number;
  /** Events older than this are dropped, read or not, in ms. */
  eventTtlMs: number;
  /** Open streams per console session. */
  maxStreamsPerSession: number;
  /** Open streams in all. */
  maxStreams: number;
  /** Chats kept; the longest idle one without a stream is dropped for a new one. */
  maxChats: number;
  /** Messages per chat whose buttons are remembered (a press must name a button the bot showed). */
  maxMessagesWithButtons: number;
}

/** Defaults for `WebChatLimits` (config `adapters.web`). */
export const DEFAULT_WEB_CHAT_LIMITS: WebChatLimits = {
  maxEventsPerChat: 200,
  maxUnreadEvents: 100,
  eventTtlMs: 10 * 60_000,
  maxStreamsPerSession: 3,
  maxStreams: 500,
  maxChats: 2_000,
  maxMessagesWithButtons: 50,
};

/** Why a stream or a send was refused. */
export type ChatRefusal = "closed" | "unread-full" | "too-many-streams" | "too-many-chats";

/** A stream's hold on a chat: woken when an event arrives. */
interface Reader {
  wake(): void;
}

/** One person's web chat. */
export class WebChat {
  readonly events: WebChatEvent[] = [];
  readonly readers = new Set<Reader>();
  /** Button data offered, by message id (oldest first, bounded). */
  readonly buttons = new Map<string, Set<string>>();
  /** The highest event id any stream has written. */
  readUpTo = 0;
  nextId = 1;
  lastActiveAt: number;
  /** The person closed the chat: sends are refused until they open it again. */
  isClosed = false;

  constructor(nowMs: number) {
    this.lastActiveAt = nowMs;
  }

  /** Events after `afterId` that are still kept. */
  after(afterId: number): WebChatEvent[] {
    const i = this.events.findIndex((e) => e.id > afterId);
    return i < 0 ? [] : this.events.slice(i);
  }

  unread(): number {
    let n = 0;
    for (let i = this.events.length - 1; i >= 0 && this.events[i]!.id > this.readUpTo; i--) n++;
    return n;
  }

  /** Drop events past the count and age bounds. */
  trim(limits: WebChatLimits, nowMs: number): void {
    let drop = Math.max(0, this.events.length - limits.maxEventsPerChat);
    while (drop < this.events.length && nowMs - this.events[drop]!.at > limits.eventTtlMs) drop++;
    if (drop > 0) this.events.splice(0, drop);
  }
}

/** Every web chat, with the stream counts. */
export class WebChats {
  readonly #limits: WebChatLimits;
  readonly #now: () => number;
  readonly #chats = new Map<string, WebChat>();
  readonly #streamsBySession = new Map<string, number>();
  #streams = 0;

  constructor(options: { limits: WebChatLimits; now: () => number }) {
    this.#limits = options.limits;
    this.#now = options.now;
  }

  get limits(): WebChatLimits {
    return this.#limits;
  }

  get size(): number {
    return this.#chats.size;
  }

  get streams(): number {
    return this.#streams;
  }

  /** A chat, made when missing (dropping the longest idle chat without a stream when full). */
  open(chatId: string): WebChat | "too-many-chats" {
    const now = this.#now();
    let chat = this.#chats.get(chatId);
    if (chat !== undefined) {
      chat.lastActiveAt = now;
      return chat;
    }
    if (this.#chats.size >= this.#limits.maxChats && !this.#evictIdle()) return "too-many-chats";
    chat = new WebChat(now);
    this.#chats.set(chatId, chat);
    return chat;
  }

  get(chatId: string): WebChat | undefined {
    return this.#chats.get(chatId);
  }

  /** Append an event to a chat (an edit replaces the same message's unread edit), and wake its streams. */
  push(chat: WebChat, event: Omit<WebChatEvent, "id" | "at">): WebChatEvent {
    const now = this.#now();
    if (event.type === "edit") {
      const i = chat.events.findLastIndex(
        (e) => e.id > chat.readUpTo && e.type === "edit" && e.messageId === event.messageId,
      );
      if (i >= 0) chat.events.splice(i, 1);
    }
    const full: WebChatEvent = { ...event, id: chat.nextId++, at: now };
    chat.events.push(full);
    chat.lastActiveAt = now;
    chat.trim(this.#limits, now);
    if (event.buttons !== undefined && event.messageId !== undefined) {
      chat.buttons.set(event.messageId, new Set(event.buttons.flat().map((b) => b.data)));
      while (chat.buttons.size > this.#limits.maxMessagesWithButtons) {
        chat.buttons.delete(chat.buttons.keys().next().value!);
      }
    }
    for (const reader of chat.readers) reader.wake();
    return full;
  }

  /** Take a stream slot for a session, or say why not. */
  attach(sessionId: string, chat: WebChat, reader: Reader): "ok" | "too-many-streams" | "closing" {
    const mine = this.#streamsBySession.get(sessionId) ?? 0;
    if (this.isClosing) return "closing";
    if (mine >= this.#limits.maxStreamsPerSession || this.#streams >= this.#limits.maxStreams) {
      return "too-many-streams";
    }
    this.#streamsBySession.set(sessionId, mine + 1);
    this.#streams++;
    chat.readers.add(reader);
    chat.isClosed = false;
    return "ok";
  }

  detach(sessionId: string, chat: WebChat, reader: Reader): void {
    if (!chat.readers.delete(reader)) return;
    const mine = (this.#streamsBySession.get(sessionId) ?? 1) - 1;
    if (mine <= 0) this.#streamsBySession.delete(sessionId);
    else this.#streamsBySession.set(sessionId, mine);
    this.#streams--;
    chat.lastActiveAt = this.#now();
  }

  /** Set by `closeAll`: every stream ends, and no new one is taken. */
  isClosing = false;

  /** End every stream (the adapter stops): each is woken, sees `isClosing`, and ends its answer. */
  closeAll(): void {
    this.isClosing = true;
    for (const chat of this.#chats.values()) for (const reader of chat.readers) reader.wake();
  }

  /** Drop chats idle past the event age with no stream, and events past the bounds in the others. */
  sweep(): void {
    const now = this.#now();
    for (const [id, chat] of this.#chats) {
      if (chat.readers.size === 0 && now - chat.lastActiveAt > this.#limits.eventTtlMs) this.#chats.delete(id);
      else chat.trim(this.#limits, now);
    }
  }

  #evictIdle(): boolean {
    this.sweep();
    if (this.#chats.size < this.#limits.maxChats) return true;
    let oldest: [string, WebChat] | undefined;
    for (const entry of this.#chats) {
      if (entry[1].readers.size === 0 && (oldest === undefined || entry[1].lastActiveAt < oldest[1].lastActiveAt))
        oldest = entry;
    }
    if (oldest === undefined) return false;
    this.#chats.delete(oldest[0]);
    return true;
  }
}
