/* What the chat page and the dashboard share: finding and building elements, JSON
 * requests to this site (with the CSRF token, and back to the login page when the
 * session has ended), error texts and the notice line. Exposed as window.Assistant. */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };

  const meta = (name) => {
    const tag = document.querySelector(`meta[name="${name}"]`);
    return tag ? tag.content : "";
  };

  function toLogin() {
    const login = meta("login-url") || "/accounts/login/";
    window.location.assign(`${login}?next=${encodeURIComponent(location.pathname + location.hash)}`);
  }

  /* {ok, status, data}; never throws. A request the server refuses for want of a
   * login sends the page to the login page. */
  async function request(method, url, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = meta("csrf-token");
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return { ok: false, status: 0, data: { detail: "The server can't be reached. Check your connection." } };
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 || (data && data.error === "not_authenticated")) toLogin();
    return { ok: response.ok, status: response.status, data };
  }

  function errorText(data) {
    const detail = data && data.detail;
    if (!detail) return "Something went wrong. Please try again.";
    if (typeof detail === "string") return detail;
    return Object.entries(detail)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
      .join(" ");
  }

  function notify(text, kind = "info") {
    const notice = $("notice");
    notice.textContent = text;
    notice.className = `notice ${kind}`;
    notice.hidden = !text;
  }

  window.Assistant = { $, el, meta, request, errorText, notify };
})();
