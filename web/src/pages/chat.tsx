/**
 * Web chat: talk to the bot as yourself. Messages and button presses are posted; the bot's replies, their edits
 * (a streamed answer grows in place) and typing come over one event stream (`EventSource`, which resumes after
 * the last event it saw). The bot's text arrives as escaped HTML with five tags; it is parsed inert
 * (`DOMParser` runs nothing) and rebuilt from those tags only, every other node as its text. Files go with a
 * message (the attach button, shown as chips until sent, as base64 in the post); a file the bot sends is a
 * download link that works for this session's person only.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.ts";
import { messageOf } from "../hooks.ts";

interface Button {
  label: string;
  data: string;
}

interface FileInfo {
  name: string;
  mimeType: string;
  size: number;
}

interface BotFile extends FileInfo {
  url: string;
}

interface ChatEvent {
  id: number;
  type: "message" | "edit" | "said" | "typing" | "file";
  messageId?: string;
  html?: string;
  text?: string;
  buttons?: Button[][];
  files?: FileInfo[];
  file?: BotFile;
  at: number;
}

interface Line {
  key: string;
  from: "bot" | "you";
  messageId?: string;
  html?: string;
  text?: string;
  buttons?: Button[][];
  files?: FileInfo[];
  file?: BotFile;
  isEdited?: boolean;
}

/** What `/api/webchat/commands` says about files on a message. */
interface FileBounds {
  maxUploadFiles: number;
  maxUploadBytes: number;
}

/** `12.3 MB`, `640 KB`, `17 bytes`. */
function sizeOf(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** A file's bytes as base64 (what follows the comma of its data URL). */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^[^,]*,/, ""));
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

/** A client-made id for one post: the server treats the same id twice as one delivery. */
function clientId(): string {
  return crypto.randomUUID().replace(/[^A-Za-z0-9_-]/g, "");
}

export function ChatPage() {
  const [lines, setLines] = useState<Line[]>([]);
  const [draft, setDraft] = useState("");
  const [isTyping, setTyping] = useState(false);
  const [state, setState] = useState<"connecting" | "open" | "lost">("connecting");
  const [error, setError] = useState<string | undefined>(undefined);
  const [commands, setCommands] = useState<{ name: string; description: string }[]>([]);
  const [attached, setAttached] = useState<File[]>([]);
  const [bounds, setBounds] = useState<FileBounds>({ maxUploadFiles: 4, maxUploadBytes: 10 * 1024 * 1024 });
  const logRef = useRef<HTMLDivElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const source = new EventSource("/api/webchat/events");
    let typingTimer: number | undefined;
    const onEvent = (message: MessageEvent<string>) => {
      const e = JSON.parse(message.data) as ChatEvent;
      if (e.type === "typing") {
        setTyping(true);
        clearTimeout(typingTimer);
        typingTimer = window.setTimeout(() => setTyping(false), 5_000);
        return;
      }
      if (e.type !== "said") setTyping(false);
      setLines((old) => apply(old, e));
    };
    for (const type of ["message", "edit", "said", "typing", "file"]) source.addEventListener(type, onEvent);
    source.onopen = () => setState("open");
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "lost" : "connecting");
    api<{ commands: { name: string; description: string }[]; files: FileBounds }>("GET", "/api/webchat/commands").then(
      (r) => {
        setCommands(r.commands);
        setBounds(r.files);
      },
      () => undefined,
    );
    return () => {
      clearTimeout(typingTimer);
      source.close();
    };
  }, []);

  useEffect(() => {
    const log = logRef.current;
    if (log !== null) log.scrollTop = log.scrollHeight;
  }, [lines, isTyping]);

  const send = async (e: Event) => {
    e.preventDefault();
    const text = draft.trim();
    if (text === "" && attached.length === 0) return;
    setError(undefined);
    try {
      const files = await Promise.all(
        attached.map(async (f) => ({
          name: f.name,
          mimeType: f.type || "application/octet-stream",
          data: await base64Of(f),
        })),
      );
      await api("POST", "/api/webchat/messages", {
        text,
        clientId: clientId(),
        ...(files.length === 0 ? {} : { files }),
      });
      setDraft("");
      setAttached([]);
    } catch (failure) {
      setError(messageOf(failure));
    }
  };

  /** Add the chosen files, refusing at once what the bot would refuse. */
  const attach = (chosen: FileList | null) => {
    const next = [...attached, ...(chosen === null ? [] : [...chosen])];
    if (fileRef.current !== null) fileRef.current.value = "";
    const bytes = next.reduce((n, f) => n + f.size, 0);
    if (next.length > bounds.maxUploadFiles) {
      setError(`At most ${bounds.maxUploadFiles} files go with one message.`);
    } else if (bytes > bounds.maxUploadBytes) {
      setError(`The files come to ${sizeOf(bytes)}; at most ${sizeOf(bounds.maxUploadBytes)} go with one message.`);
    } else {
      setError(undefined);
      setAttached(next);
    }
  };

  const press = async (messageId: string, button: Button) => {
    setError(undefined);
    try {
      await api("POST", "/api/webchat/buttons", { messageId, data: button.data, clientId: clientId() });
    } catch (failure) {
      setError(messageOf(failure));
    }
  };

  return (
    <section class="webchat">
      <h1>Chat</h1>
      <p class="muted">
        You talk to the bot as yourself: your commands, your permissions, your limits.{" "}
        <span class="state" aria-live="polite">
          {state === "open" ? "Connected." : state === "connecting" ? "Connecting…" : "Disconnected."}
        </span>
      </p>
      <div class="chat-log" role="log" aria-label="Conversation" aria-live="polite" ref={logRef}>
        {lines.length === 0 ? <p class="empty">Say hello, or try /help.</p> : null}
        {lines.map((line) => (
          <div key={line.key} class={`bubble bubble-${line.from}`} data-message-id={line.messageId}>
            <span class="visually-hidden">{line.from === "bot" ? "Bot: " : "You: "}</span>
            {line.file !== undefined ? (
              <p class="file-reply">
                <a href={line.file.url} download={line.file.name}>
                  {line.file.name}
                </a>{" "}
                <span class="muted">({sizeOf(line.file.size)})</span>
              </p>
            ) : line.html === undefined ? (
              line.text === "" ? null : (
                <p>{line.text}</p>
              )
            ) : (
              <div class="bot-text">{fromWebHtml(line.html)}</div>
            )}
            {line.files === undefined ? null : (
              <ul class="chips" aria-label="Files sent">
                {line.files.map((f, i) => (
                  <li class="chip" key={i}>
                    {f.name} <span class="muted">({sizeOf(f.size)})</span>
                  </li>
                ))}
              </ul>
            )}
            {line.buttons === undefined || line.messageId === undefined ? null : (
              <div class="buttons">
                {line.buttons.map((row, i) => (
                  <div class="row" key={i}>
                    {row.map((b) => (
                      <button type="button" key={b.data} onClick={() => void press(line.messageId!, b)}>
                        {b.label}
                      </button>
                    ))}
                  </div>
                ))}
              </div>
            )}
          </div>
        ))}
        {isTyping ? <p class="muted typing">The bot is typing…</p> : null}
      </div>
      {error === undefined ? null : <p role="alert">{error}</p>}
      {attached.length === 0 ? null : (
        <ul class="chips" aria-label="Files to send">
          {attached.map((f, i) => (
            <li class="chip" key={`${f.name}-${i}`}>
              {f.name} <span class="muted">({sizeOf(f.size)})</span>
              <button
                type="button"
                class="chip-remove"
                aria-label={`Remove ${f.name}`}
                onClick={() => setAttached(attached.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="chat-form" onSubmit={send}>
        <input
          ref={fileRef}
          id="chat-files"
          type="file"
          multiple
          class="visually-hidden"
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => attach((e.target as HTMLInputElement).files)}
        />
        <button
          type="button"
          class="attach"
          aria-label="Attach files"
          title="Attach files"
          onClick={() => fileRef.current?.click()}
        >
          Attach
        </button>
        <label for="chat-input" class="visually-hidden">
          Message
        </label>
        <input
          id="chat-input"
          list="chat-commands"
          autoComplete="off"
          maxLength={20_000}
          placeholder="Message, or /command"
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <datalist id="chat-commands">
          {commands.map((c) => (
            <option key={c.name} value={`/${c.name}`}>
              {c.description}
            </option>
          ))}
        </datalist>
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

/** The lines after one event: a new line, or an edit of the bot's message in place. */
function apply(lines: Line[], e: ChatEvent): Line[] {
  if (e.type === "edit") {
    return lines.map((l) =>
      l.from === "bot" && l.messageId === e.messageId
        ? { ...l, html: e.html ?? "", isEdited: true, ...(e.buttons === undefined ? {} : { buttons: e.buttons }) }
        : l,
    );
  }
  if (lines.some((l) => l.key === String(e.id))) return lines;
  const line: Line =
    e.type === "said"
      ? { key: String(e.id), from: "you", text: e.text ?? "", ...(e.files === undefined ? {} : { files: e.files }) }
      : e.type === "file" && e.file !== undefined
        ? {
            key: String(e.id),
            from: "bot",
            file: e.file,
            ...(e.messageId === undefined ? {} : { messageId: e.messageId }),
          }
        : {
            key: String(e.id),
            from: "bot",
            html: e.html ?? "",
            ...(e.messageId === undefined ? {} : { messageId: e.messageId }),
            ...(e.buttons === undefined ? {} : { buttons: e.buttons }),
          };
  return [...lines.slice(-499), line];
}

/** The web dialect's five tags as elements; anything else becomes its text. Links only to http(s) and mailto. */
export function fromWebHtml(html: string): ComponentChildren {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  return [...doc.body.childNodes].map((n, i) => nodeOf(n, i));
}

function nodeOf(node: ChildNode, key: number): ComponentChildren {
  if (node.nodeType === Node.TEXT_NODE) return node.textContent;
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const el = node as Element;
  const children = [...el.childNodes].map((n, i) => nodeOf(n, i));
  switch (el.tagName) {
    case "B":
      return <strong key={key}>{children}</strong>;
    case "I":
      return <em key={key}>{children}</em>;
    case "CODE":
      return <code key={key}>{children}</code>;
    case "PRE":
      return <pre key={key}>{children}</pre>;
    case "A": {
      const href = el.getAttribute("href") ?? "";
      return /^(https?:|mailto:)/i.test(href) ? (
        <a key={key} href={href} rel="noopener noreferrer nofollow" target="_blank">
          {children}
        </a>
      ) : (
        <span key={key}>{children}</span>
      );
    }
    default:
      return el.textContent;
  }
}
