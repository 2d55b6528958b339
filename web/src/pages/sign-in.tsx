/**
 * Redeem a sign-in link: `/console/sign-in#code=…`. The code is in the fragment (no server log, no Referer);
 * it is taken out of the address bar before anything else happens, then posted once.
 */
import { useEffect, useState } from "preact/hooks";
import { api, type Principal, setCsrfToken } from "../api.ts";
import { messageOf } from "../hooks.ts";

export function SignInPage(props: { onSignedIn(principal: Principal): void }) {
  const [failure, setFailure] = useState<string | undefined>(undefined);
  useEffect(() => {
    const code = new URLSearchParams(location.hash.slice(1)).get("code");
    history.replaceState(null, "", location.pathname);
    if (code === null || code === "") {
      setFailure("This address holds no sign-in code.");
      return;
    }
    api<{ principal: Principal; csrfToken: string }>("POST", "/api/auth/sign-in", { code }).then(
      (answer) => {
        setCsrfToken(answer.csrfToken);
        props.onSignedIn(answer.principal);
      },
      (e: unknown) => setFailure(messageOf(e)),
    );
  }, []);
  return (
    <main id="main" class="narrow" tabIndex={-1}>
      <h1>Signing in</h1>
      {failure === undefined ? (
        <p aria-live="polite">Checking your link…</p>
      ) : (
        <div role="alert">
          <p>
            <strong>This sign-in link cannot be used.</strong> Links work once and for 10 minutes.
          </p>
          <p>{failure}</p>
          <p>
            Ask for a new one: send <code>/console</code> to the bot in a direct message.
          </p>
        </div>
      )}
    </main>
  );
}
