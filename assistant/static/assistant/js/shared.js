/* A conversation shared by link: its messages, from the page's JSON, rendered as the
 * chat page renders them (answers as inert Markdown). Read-only. */
(() => {
  "use strict";

  const { $, el, markdown } = window.Assistant;

  function start() {
    const data = $("shared-messages");
    if (!data) return;
    const list = $("messages");
    for (const message of JSON.parse(data.textContent)) {
      const who = el("div", { className: "who" }, message.role === "user" ? "Question" : "Assistant");
      const calls = (message.meta && message.meta.tools) || [];
      const used = calls.length
        ? el("div", { className: "muted tools-used" }, `Used ${calls.map((call) => call.name).join(", ")}`)
        : null;
      const body = message.role === "user" ? el("div", { className: "text" }, message.content) : markdown(message.content);
      list.append(el("li", { className: `message ${message.role}`, dataset: { id: message.id } }, who, used, body));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
