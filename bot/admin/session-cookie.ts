/** The console session cookie's name (its own module, so naming it loads no route code). */
export const SESSION_COOKIE = "sb_session";
