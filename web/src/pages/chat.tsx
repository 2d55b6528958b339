/**
 * Web chat: talk to the bot as yourself. Messages and button presses are posted; the bot's replies, their edits
 * (a streamed answer grows in place) and typing come over one event stream (`EventSource`, which resumes after
 * the last event it saw). The bot's text arrives as escaped HTML with five tags; it is parsed inert
 * (`DOMParser` runs nothing) and rebuilt from those tags only, every other node as its text.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.ts";
import { messageOf } from "../hooks.ts";

interface Button {
  label: string;
  data: string;
}

interface ChatEvent {
  id: number;
  type: "message" | "edit" | "said" | "typing";
  messageId?: string;
  html?: string;
  text?: string;
  buttons?: Button[][];
  at: number;
}

interface Line {
  key: string;
  from: "bot" | "you";
  messageId?: string;
  html?: string;
  text?: string;
  buttons?: Button[][];
  isEdited?: boolean;
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
  const logRef = useRef<HTMLDivElement>(null);

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
    for (const type of ["message", "edit", "said", "typing"]) source.addEventListener(type, onEvent);
    source.onopen = () => setState("open");
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "lost" : "connecting");
    api<{ commands: { name: string; description: string }[] }>("GET", "/api/webchat/commands").then(
      (r) => setCommands(r.commands),
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
    if (text === "") return;
    setError(undefined);
    try {
      await api("POST", "/api/webchat/messages", { text, clientId: clientId() });
      setDraft("");
    } catch (failure) {
      setError(messageOf(failure));
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
            {line.html === undefined ? <p>{line.text}</p> : <div class="bot-text">{fromWebHtml(line.html)}</div>}
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
      <form class="chat-form" onSubmit={send}>
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
      ? { key: String(e.id), from: "you", text: e.text ?? "" }
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
