/**
 * A streamed answer in chat: the first fragment is sent as a message, later fragments become throttled edits of
 * it (at most one edit in flight, at most one per `editIntervalMs`, always showing the newest text), and the final
 * edit carries the whole answer. Where the adapter cannot edit, nothing is sent until the end, then once.
 */
import type { Logger } from "pino";
import { type AdapterHub, cleanChatText, type Inbound, type Reply, type SentMessage } from "../bot/index.ts";

/** Options for `StreamingReply`. */
export interface StreamingReplyOptions {
  inbound: Inbound;
  adapters: AdapterHub;
  editIntervalMs: number;
  log?: Logger;
}

const CURSOR = " ▍";

/** One streamed reply. */
export class StreamingReply {
  readonly #o: StreamingReplyOptions;
  readonly #canEdit: boolean;
  readonly #maxChars: number;
  #text = "";
  #sent: Promise<SentMessage> | undefined;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastEditAt = 0;
  #shown = "";
  #closed = false;
  /** Edits made while streaming (not counting the first send and the final edit). */
  edits = 0;

  constructor(options: StreamingReplyOptions) {
    this.#o = options;
    const adapter = options.adapters.get(options.inbound.platform);
    this.#canEdit = adapter?.capabilities.edit === true;
    this.#maxChars = adapter?.capabilities.maxTextLength ?? 4000;
  }

  /** True when fragments are shown as they arrive. */
  get isLive(): boolean {
    return this.#canEdit;
  }

  /** Add a fragment of the answer. */
  push(fragment: string): void {
    this.#text += fragment;
    if (!this.#canEdit || this.#closed) return;
    if (this.#sent === undefined) {
      this.#shown = this.#preview();
      this.#lastEditAt = performance.now();
      this.#sent = this.#o.inbound.respond({ text: this.#shown, format: "plain" });
      // A failed first send is reported by `finish`, which falls back to a fresh message.
      this.#sent.catch(() => undefined);
      return;
    }
    this.#schedule();
  }

  /** Start over (a fallback model or a new tool round replaces what was shown). */
  reset(): void {
    this.#text = "";
  }

  /** The text so far. */
  get text(): string {
    return this.#text;
  }

  /** Show the final reply: the last edit of the streamed message, or one message. */
  async finish(reply: Reply): Promise<SentMessage> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
    const sent = this.#sent === undefined ? undefined : await this.#sent.catch(() => undefined);
    if (sent === undefined) return this.#o.inbound.respond(reply);
    const [head, tail] = splitAt(reply.text, this.#maxChars);
    try {
      await this.#o.adapters.edit(sent, { ...reply, text: head, ...(tail === "" ? {} : { buttons: undefined }) });
    } catch (error) {
      this.#o.log?.warn({ err: error }, "final edit of a streamed answer failed; sending it as a new message");
      return this.#o.inbound.respond(reply);
    }
    if (tail !== "") return this.#o.inbound.respond({ ...reply, text: tail });
    return sent;
  }

  /** Stop without a final text (the turn failed): the partial message is marked as cut off. */
  async abandon(note: string): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
    const sent = this.#sent === undefined ? undefined : await this.#sent.catch(() => undefined);
    if (sent !== undefined) {
      await this.#o.adapters
        .edit(sent, {
          text: `${splitAt(cleanChatText(this.#text), this.#maxChars - note.length - 2)[0]}\n\n${note}`,
          format: "plain",
        })
        .catch(() => undefined);
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#inFlight !== undefined) return;
    const waitMs = Math.max(0, this.#lastEditAt + this.#o.editIntervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, waitMs);
  }

  #flush(): void {
    if (this.#closed || this.#sent === undefined) return;
    const preview = this.#preview();
    if (preview === this.#shown) return;
    const sent = this.#sent;
    this.#inFlight = (async () => {
      try {
        const message = await sent;
        this.#shown = preview;
        this.#lastEditAt = performance.now();
        await this.#o.adapters.edit(message, { text: preview, format: "plain" });
        this.edits++;
      } catch (error) {
        this.#o.log?.debug({ err: error }, "streaming edit failed");
      } finally {
        this.#inFlight = undefined;
        // Text that arrived during the edit is shown by the next one.
        if (!this.#closed && this.#preview() !== this.#shown) this.#schedule();
      }
    })();
  }

  #preview(): string {
    const room = this.#maxChars - CURSOR.length;
    const clean = cleanChatText(this.#text);
    const text = clean.length > room ? `${clean.slice(0, room - 1)}…` : clean;
    return `${text}${CURSOR}`;
  }
}

/** Split text to fit one message: cut at the last newline (or space) before `max`. */
export function splitAt(text: string, max: number): [string, string] {
  if (text.length <= max) return [text, ""];
  let cut = text.lastIndexOf("\n", max);
  if (cut < max / 2) cut = text.lastIndexOf(" ", max);
  if (cut < max / 2) cut = max;
  return [text.slice(0, cut), text.slice(cut).replace(/^\s+/, "")];
}
