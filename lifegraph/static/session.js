// A signed-in session in the browser, shared by the dashboard and GraphiQL pages: the
// access token is held in memory only, the refresh token in the tab's sessionStorage (so
// a reload resumes the session, see README.md), and the session is renewed with the
// contract's RefreshSession before the access token expires.
"use strict";

window.LifegraphSession = (() => {
  const REFRESH_KEY = "lifegraph.refreshToken";
  // Renew this long before the access token expires, or a third of its lifetime if shorter.
  const RENEW_MARGIN_MS = 60000;
  const SESSION_ENDED = "Your session has ended. Please sign in again.";

  class SessionEnded extends Error {}

  // `refreshSession(refreshToken)` sends RefreshSession and resolves to its GraphQL result;
  // `renewDue()` is called when the access token is due for renewal.
  function create({ refreshSession, renewDue }) {
    let current = null; // { accessToken, user, renewAt }
    let refreshing = null;
    let renewTimer = null;

    function begin(signedIn) {
      // Stored at once: the refresh token just presented is spent, this one is the only one.
      sessionStorage.setItem(REFRESH_KEY, signedIn.refreshToken);
      // The lifetime (exp - iat) counts from now, so a browser clock that is off does no harm.
      const base64 = signedIn.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(base64));
      const lifetime = (claims.exp - claims.iat) * 1000;
      const renewIn = lifetime - Math.min(RENEW_MARGIN_MS, lifetime / 3);
      const renewAt = Date.now() + renewIn;
      current = { accessToken: signedIn.accessToken, user: signedIn.user, renewAt };
      clearTimeout(renewTimer);
      renewTimer = setTimeout(renewDue, renewIn);
    }

    function end() {
      current = null;
      sessionStorage.removeItem(REFRESH_KEY);
      clearTimeout(renewTimer);
    }

    // A refresh token works once, and presenting it again ends the whole session: so there
    // is never more than one refresh in flight, and everyone who needs one shares it.
    function refresh() {
      refreshing ||= renew().finally(() => {
        refreshing = null;
      });
      return refreshing;
    }

    async function renew() {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new SessionEnded(SESSION_ENDED);
      const result = await refreshSession(refreshToken);
      const payload = result.data && result.data.refreshSession;
      if (!payload) {
        throw new Error((result.errors && result.errors[0].message) || "No answer to the refresh.");
      }
      if (sessionStorage.getItem(REFRESH_KEY) !== refreshToken) return; // signed out meanwhile
      if (payload.userErrors.length > 0) throw new SessionEnded(payload.userErrors[0].message);
      begin(payload.session);
    }

    return {
      begin,
      end,
      refresh,
      get current() {
        return current;
      },
      get refreshToken() {
        return sessionStorage.getItem(REFRESH_KEY);
      },
      get due() {
        return current !== null && Date.now() >= current.renewAt;
      },
    };
  }

  return { create, SessionEnded, SESSION_ENDED };
})();
