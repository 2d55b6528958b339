/** Paths under `/console/`: the page shown, kept in the address bar so back and reload work. */
import { useEffect, useState } from "preact/hooks";

/** The console's base path (where the bot serves it). */
export const BASE = "/console";

/** The page part of the current path: "" for the dashboard, "chats", "sign-in", … */
export function currentPage(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return path.replace(/^\/+|\/+$/g, "");
}

/** Go to a page of the console without reloading. */
export function navigate(page: string): void {
  history.pushState(null, "", `${BASE}/${page}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** The current page, updated on navigation. */
export function usePage(): string {
  const [page, setPage] = useState(currentPage());
  useEffect(() => {
    const update = () => setPage(currentPage());
    addEventListener("popstate", update);
    return () => removeEventListener("popstate", update);
  }, []);
  return page;
}

/** Follow an in-console link without a reload (plain clicks only; others open as links do). */
export function onLinkClick(e: MouseEvent, page: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(page);
}
