/* Markdown made inert, for the chat page and shared conversations: marked renders it,
 * DOMPurify keeps no scripts, handlers, frames, forms, styles or javascript: links;
 * links open in a new tab without a referrer and no image is fetched. Needs marked
 * and DOMPurify (vendored) and common.js. Exposed as window.Assistant.markdown. */
(() => {
  "use strict";

  const { el } = window.Assistant;

  const PURIFY = {
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed",
      "svg", "math", "video", "audio", "source", "link", "meta", "base"],
    FORBID_ATTR: ["style", "srcset", "action", "formaction", "background", "poster"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  };
  let purifierReady = false;

  function setUpPurifier() {
    if (purifierReady) return;
    purifierReady = true;
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("rel", "noopener noreferrer nofollow");
        node.setAttribute("target", "_blank");
      }
      if (node.tagName === "IMG") {
        // No image is fetched from anywhere: a picture in an answer shows as its text.
        const src = node.getAttribute("src") || "";
        if (!src.startsWith("data:image/")) {
          node.replaceWith(document.createTextNode(`[image: ${node.getAttribute("alt") || src}]`));
        }
      }
    });
  }

  function markdown(text) {
    setUpPurifier();
    const html = window.marked.parse(text || "", { gfm: true, async: false });
    const fragment = window.DOMPurify.sanitize(html, { ...PURIFY, RETURN_DOM_FRAGMENT: true });
    const holder = el("div", { className: "markdown" });
    holder.append(fragment);
    decorate(holder);
    return holder;
  }

  // Code blocks: highlighted (highlight.js escapes what it reads) and with a Copy button.
  function decorate(holder) {
    for (const code of holder.querySelectorAll("pre > code")) {
      if (window.hljs) window.hljs.highlightElement(code);
      const copy = el("button", { type: "button", className: "copy-code", "aria-label": "Copy code" }, "Copy");
      copy.addEventListener("click", () => copyText(code.textContent, copy));
      code.parentElement.prepend(copy);
    }
  }

  async function copyText(text, button) {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  if (window.hljs) window.hljs.configure({ ignoreUnescapedHTML: true, throwUnescapedHTML: false });
  window.Assistant.markdown = markdown;
  window.Assistant.copyText = copyText;
})();
