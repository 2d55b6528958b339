/**
 * Files held in memory for the web chat: uploads on a message (read by whoever handles it, through the inbound's
 * attachments) and files the bot sent (downloaded by the person whose chat it is). Nothing is written to disk.
 * Bounded by count, by total bytes and by age: the oldest file goes first when a bound is reached, and a file
 * past its age is gone whether read or not.
 */
import { randomBytes } from "node:crypto";

/** One held file. */
export interface HeldFile {
  id: string;
  /** The web chat id it belongs to: only that chat's person may read it. */
  chatId: string;
  name: string;
  mimeType: string;
  data: Uint8Array;
  /** Epoch ms it was put here. */
  at: number;
}

/** The bounds of one shelf. */
export interface FileShelfLimits {
  maxFiles: number;
  maxBytes: number;
  ttlMs: number;
}

/** See the file comment. */
export class FileShelf {
  readonly #files = new Map<string, HeldFile>();
  readonly #limits: FileShelfLimits;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: { limits: FileShelfLimits; now: () => number }) {
    this.#limits = options.limits;
    this.#now = options.now;
  }

  get size(): number {
    return this.#files.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Hold a file; older files make room. Its id is random (128 bits), so it cannot be guessed. */
  put(file: Omit<HeldFile, "id" | "at">): HeldFile {
    this.sweep();
    const held: HeldFile = { ...file, id: randomBytes(16).toString("base64url"), at: this.#now() };
    this.#files.set(held.id, held);
    this.#bytes += held.data.byteLength;
    while (this.#files.size > this.#limits.maxFiles || this.#bytes > this.#limits.maxBytes) {
      const oldest = this.#files.keys().next().value!;
      if (oldest === held.id) break;
      this.#drop(oldest);
    }
    return held;
  }

  /** The file, when it is still held and belongs to this chat. */
  get(id: string, chatId: string): HeldFile | undefined {
    const file = this.#files.get(id);
    if (file === undefined || file.chatId !== chatId) return undefined;
    if (this.#now() - file.at > this.#limits.ttlMs) {
      this.#drop(id);
      return undefined;
    }
    return file;
  }

  /** Let go of a file (its message was handled). */
  release(id: string): void {
    this.#drop(id);
  }

  /** Drop files past their age (oldest first: the map keeps insertion order). */
  sweep(): void {
    const now = this.#now();
    for (const [id, file] of this.#files) {
      if (now - file.at <= this.#limits.ttlMs) break;
      this.#drop(id);
    }
  }

  clear(): void {
    this.#files.clear();
    this.#bytes = 0;
  }

  #drop(id: string): void {
    const file = this.#files.get(id);
    if (file === undefined) return;
    this.#files.delete(id);
    this.#bytes -= file.data.byteLength;
  }
}
