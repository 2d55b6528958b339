/** The console's shell: who is signed in, the navigation, and the page the path names. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, type Principal, setCsrfToken } from "./api.ts";
import { messageOf } from "./hooks.ts";
import { BASE, navigate, onLinkClick, usePage } from "./router.ts";
import { AccessPage } from "./pages/access.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { ChatPage } from "./pages/chat.tsx";
import { ChatsPage } from "./pages/chats.tsx";
import { DashboardPage } from "./pages/dashboard.tsx";
import { ModelsPage } from "./pages/models.tsx";
import { SchedulesPage } from "./pages/schedules.tsx";
import { SignInPage } from "./pages/sign-in.tsx";
import { SkillsPage } from "./pages/skills.tsx";
import "./style.css";

const PAGES: { page: string; label: string }[] = [
  { page: "", label: "Dashboard" },
  { page: "chats", label: "Chats" },
  { page: "audit", label: "Audit" },
  { page: "schedules", label: "Schedules" },
  { page: "skills", label: "Skills" },
  { page: "models", label: "Models" },
  { page: "chat", label: "Chat" },
  { page: "access", label: "Access" },
];

type Who = { state: "loading" } | { state: "out"; message?: string } | { state: "in"; principal: Principal };

function App() {
  const page = usePage();
  const [who, setWho] = useState<Who>({ state: "loading" });

  useEffect(() => {
    if (page === "sign-in" || who.state === "in") return;
    api<{ principal: Principal; csrfToken?: string }>("GET", "/api/auth/me").then(
      (me) => {
        setCsrfToken(me.csrfToken);
        setWho({ state: "in", principal: me.principal });
      },
      (e: unknown) =>
        setWho({ state: "out", ...(e instanceof ApiFailure && e.status === 401 ? {} : { message: messageOf(e) }) }),
    );
  }, [page, who.state]);

  useEffect(() => {
    const label = PAGES.find((p) => p.page === page)?.label ?? (page === "sign-in" ? "Sign in" : "Console");
    document.title = `${label} · Switchboard`;
    document.getElementById("main")?.focus();
  }, [page]);

  if (page === "sign-in")
    return (
      <SignInPage
        onSignedIn={(principal) => {
          setWho({ state: "in", principal });
          navigate("");
        }}
      />
    );
  if (who.state === "loading") return <p class="loading">Loading the console…</p>;
  if (who.state === "out") return <SignedOut {...(who.message === undefined ? {} : { message: who.message })} />;

  const signOut = async () => {
    await api("POST", "/api/auth/sign-out").catch(() => undefined);
    setCsrfToken(undefined);
    setWho({ state: "out" });
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Switchboard</span>
        <nav aria-label="Console">
          <ul>
            {PAGES.map((p) => (
              <li key={p.page}>
                <a
                  href={`${BASE}/${p.page}`}
                  aria-current={p.page === page ? "page" : undefined}
                  onClick={(e) => onLinkClick(e, p.page)}
                >
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {who.principal.displayName || who.principal.userKey}
          {who.principal.isOwner ? " (owner)" : ""}{" "}
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page page={page} principal={who.principal} />
      </main>
    </>
  );
}

function Page(props: { page: string; principal: Principal }) {
  switch (props.page) {
    case "":
      return <DashboardPage isOwner={props.principal.isOwner} />;
    case "chats":
      return <ChatsPage principal={props.principal} />;
    case "audit":
      return <AuditPage />;
    case "schedules":
      return <SchedulesPage />;
    case "skills":
      return <SkillsPage principal={props.principal} />;
    case "models":
      return <ModelsPage />;
    case "chat":
      return <ChatPage />;
    case "access":
      return <AccessPage principal={props.principal} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>The console has no page here.</p>
        </section>
      );
  }
}

function SignedOut(props: { message?: string }) {
  return (
    <main id="main" class="narrow" tabIndex={-1}>
      <h1>Switchboard console</h1>
      <p>You are not signed in.</p>
      <p>
        Send <code>/console</code> to the bot in a direct message, or run <code>switchboard console link</code> on the
        bot's host, and open the link it gives you. A link works once, for 10 minutes.
      </p>
      {props.message === undefined ? null : <p role="alert">{props.message}</p>}
    </main>
  );
}

const root = document.getElementById("app");
if (root !== null) {
  root.textContent = "";
  render(<App />, root);
}
