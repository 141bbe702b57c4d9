/* The chat page: the disclaimer, the mode picker, the conversation list, and a
 * conversation whose answers stream over /ws/sessions/{id}/ and resume after a
 * dropped connection or a reload. Talks only to this site's API. */
(() => {
  "use strict";

  const PAGE_SIZE = 20;
  const BADGES = { pending: "Sending", processing: "Processing", error: "Failed", cancelled: "Cancelled" };
  const { $, el, errorText, notify, markdown } = window.Assistant;

  const state = {
    modes: [],
    mode: null, // the mode picked for a new conversation
    projects: [],
    list: { offset: 0, total: 0, sort: "desc", search: "" },
    session: null, // the open conversation
    messages: new Map(), // id -> message, in the open conversation
    streams: new Map(), // user message id -> {text, tools, node}
    feedback: new Map(), // answer id -> {rating, comment}: this user's
    socket: null,
    lastSeq: 0,
    reconnectDelay: 500,
    renderQueued: new Set(),
  };

  // --- The API --------------------------------------------------------------------

  // Every path is under the site's mount point of the assistant (``/`` here, ``/ai/``
  // on a site that includes it there).
  const ROOT = window.Assistant.meta("assistant-root") || "/";
  const api = (method, path, body) => window.Assistant.request(method, ROOT + path.replace(/^\//, ""), body);

  // --- The disclaimer -------------------------------------------------------------

  async function checkDisclaimer() {
    const { ok, data } = await api("GET", "/api/disclaimer/");
    if (!ok) return notify(errorText(data), "error");
    if (data.accepted || data.version === null) return openWorkspace();
    $("disclaimer-text").replaceChildren(markdown(data.text));
    $("disclaimer").hidden = false;
    $("workspace").hidden = true;
    $("disclaimer-accept").focus();
    $("app").dataset.ready = "disclaimer";
  }

  async function acceptDisclaimer() {
    const { ok, data } = await api("POST", "/api/disclaimer/");
    if (!ok) return notify(errorText(data), "error");
    $("disclaimer").hidden = true;
    openWorkspace();
  }

  // --- The workspace --------------------------------------------------------------

  async function openWorkspace() {
    $("workspace").hidden = false;
    const [modes, projects] = await Promise.all([api("GET", "/api/modes/"), api("GET", "/api/projects/?limit=100")]);
    state.modes = modes.ok ? modes.data.modes : [];
    state.projects = projects.ok ? projects.data.results : [];
    await renderModes();
    await loadSessions({ reset: true });
    loadUsage();
    const id = new URLSearchParams(location.hash.slice(1)).get("session");
    if (id) await openSession(id);
    else await showStart();
    $("app").dataset.ready = "workspace";
  }

  // --- Conversation list ----------------------------------------------------------

  // The conversations, newest first; with words in the search box, those that said
  // them (in any message), best match first, each with where it said them.
  async function loadSessions({ reset }) {
    if (reset) state.list.offset = 0;
    const words = state.list.search;
    const query = new URLSearchParams({ offset: state.list.offset, limit: PAGE_SIZE });
    if (words) query.set("q", words); else query.set("sort", state.list.sort);
    const { ok, data } = await api("GET", words ? `/api/search/?${query}` : `/api/sessions/?${query}`);
    if (!ok) return notify(errorText(data), "error");
    if (words !== state.list.search) return; // a later search is on its way
    const list = $("session-list");
    if (reset) {
      list.replaceChildren();
      state.list.group = null;
    }
    const sessions = words ? data.results.map((hit) => hit.session) : data.sessions;
    sessions.forEach((session, n) => {
      const item = sessionItem(session);
      if (words) {
        item.querySelector(".session-open").append(snippetNode(data.results[n].snippet));
      } else {
        const group = dateGroup(session.updated_at);
        if (group !== state.list.group) {
          list.append(el("li", { className: "session-group muted", role: "presentation" }, group));
          state.list.group = group;
        }
      }
      list.append(item);
    });
    state.list.offset += sessions.length;
    state.list.total = data.pagination.total_count;
    const remaining = Math.max(0, state.list.total - state.list.offset);
    const more = $("load-more");
    more.hidden = remaining === 0;
    more.textContent = `Load more conversations (${remaining} remaining)`;
    $("session-empty").hidden = list.children.length > 0;
    markCurrent();
  }

  // A search snippet: the server's escaped text with its matches in <mark>; only those
  // marks are kept.
  function snippetNode(snippet) {
    const node = el("span", { className: "session-snippet muted" });
    node.append(window.DOMPurify.sanitize(snippet, { ALLOWED_TAGS: ["mark"], ALLOWED_ATTR: [], RETURN_DOM_FRAGMENT: true }));
    return node;
  }

  // Today, Yesterday, Previous 7 days, Previous 30 days, then by month.
  function dateGroup(at) {
    const date = new Date(at);
    const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((day(new Date()) - day(date)) / 86_400_000);
    if (days <= 0) return "Today";
    if (days === 1) return "Yesterday";
    if (days < 7) return "Previous 7 days";
    if (days < 30) return "Previous 30 days";
    return date.toLocaleDateString(undefined, { month: "long", year: "numeric" });
  }

  function shortTime(at) {
    const date = new Date(at);
    return dateGroup(at) === "Today"
      ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }

  function modeName(id) {
    const mode = state.modes.find((m) => m.id === id);
    return mode ? mode.name : id;
  }

  function sessionItem(session) {
    const open = el("button", { type: "button", className: "session-open", title: session.title },
      el("span", { className: "session-title" }, session.title || "Untitled Chat"),
      el("span", { className: "session-mode muted" }, modeName(session.mode), " · ",
        el("time", { dateTime: session.updated_at }, shortTime(session.updated_at))));
    open.addEventListener("click", () => openSession(session.id));
    const rename = el("button", { type: "button", className: "link", "aria-label": `Rename ${session.title}` }, "Rename");
    rename.addEventListener("click", () => startRename(item, session));
    const remove = el("button", { type: "button", className: "link danger", "aria-label": `Delete ${session.title}` }, "Delete");
    remove.addEventListener("click", () => deleteSession(session));
    const item = el("li", { className: "session-item", dataset: { id: session.id } },
      open, el("span", { className: "session-actions" }, rename, remove));
    return item;
  }

  function markCurrent() {
    for (const item of document.querySelectorAll(".session-item")) {
      const current = state.session && item.dataset.id === state.session.id;
      item.classList.toggle("current", Boolean(current));
      item.querySelector(".session-open").setAttribute("aria-current", current ? "true" : "false");
    }
  }

  function startRename(item, session) {
    const input = el("input", { type: "text", value: session.title, maxLength: 40, className: "rename-input",
      "aria-label": "New title" });
    const finish = async (save) => {
      if (save && input.value.trim() && input.value !== session.title) {
        const { ok, data } = await api("PATCH", `/api/sessions/${session.id}/`, { title: input.value.trim() });
        if (!ok) notify(errorText(data), "error");
        else {
          session.title = data.title;
          if (state.session && state.session.id === session.id) $("chat-title").textContent = data.title;
        }
      }
      item.replaceWith(sessionItem(session));
      markCurrent();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); finish(true); }
      if (event.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true), { once: true });
    item.replaceChildren(input);
    input.focus();
    input.select();
  }

  async function deleteSession(session) {
    if (!window.confirm(`Delete "${session.title}"? This can't be undone.`)) return;
    const { ok, data } = await api("DELETE", `/api/sessions/${session.id}/`);
    if (!ok) return notify(errorText(data), "error");
    if (state.session && state.session.id === session.id) showStart();
    await loadSessions({ reset: true });
    notify("Conversation deleted.");
  }

  // --- Starting a conversation ----------------------------------------------------

  function renderModes() {
    const holder = $("mode-list");
    holder.replaceChildren();
    state.modes.forEach((mode, index) => {
      const input = el("input", { type: "radio", name: "mode", value: mode.id, id: `mode-${mode.id}` });
      input.checked = index === 0;
      input.addEventListener("change", () => pickMode(mode.id));
      holder.append(el("label", { className: "mode-card", htmlFor: `mode-${mode.id}` }, input,
        el("span", { className: "mode-name" }, mode.name),
        el("span", { className: "mode-description muted" }, mode.description)));
    });
    return state.modes.length ? pickMode(state.modes[0].id) : null;
  }

  // The choice made before stays chosen, unless ``keep`` is false: then the first
  // option (``empty`` when there is one) is.
  function options(select, items, { empty, keep = true } = {}) {
    const previous = select.value;
    select.replaceChildren();
    if (empty) select.append(el("option", { value: "" }, empty));
    for (const item of items) select.append(el("option", { value: String(item.id) }, item.name));
    if (keep && [...select.options].some((o) => o.value === previous)) select.value = previous;
  }

  async function pickMode(id) {
    state.mode = state.modes.find((m) => m.id === id);
    const needsJob = id === "job_code";
    const needsProject = needsJob || id === "workflow_template";
    $("context").hidden = !needsProject;
    $("pick-job-row").hidden = !needsJob;
    options($("pick-project"), state.projects, { empty: state.projects.length ? null : "No projects yet" });
    await refreshWorkflows();
  }

  async function refreshWorkflows() {
    const project = $("pick-project").value;
    const needsJob = state.mode && state.mode.id === "job_code";
    const workflows = project ? await api("GET", `/api/workflows/?project=${project}&limit=100`) : null;
    // A new request in the workflow builder is for a new workflow until the user picks
    // one: the workflow job help was about is not carried over.
    options($("pick-workflow"), workflows && workflows.ok ? workflows.data.results : [],
      { empty: needsJob ? null : "New workflow", keep: needsJob });
    await refreshJobs();
  }

  async function refreshJobs() {
    const workflow = $("pick-workflow").value;
    const jobs = workflow ? await api("GET", `/api/jobs/?workflow=${workflow}&limit=100`) : null;
    options($("pick-job"), jobs && jobs.ok ? jobs.data.results : []);
    await refreshStartInput();
  }

  function startContext() {
    const mode = state.mode ? state.mode.id : null;
    const value = (id) => ($(id).value ? Number($(id).value) : null);
    if (mode === "job_code") return { job: value("pick-job") };
    if (mode === "workflow_template") return { project: value("pick-project"), workflow: value("pick-workflow") };
    return {};
  }

  let startInputRequest = 0;

  async function refreshStartInput() {
    if (!state.mode || state.session) return;
    const request = ++startInputRequest;
    const context = startContext();
    const query = new URLSearchParams();
    if (context.job) query.set("job", context.job);
    if (context.project) query.set("project", context.project);
    const { ok, data } = await api("GET", `/api/modes/?${query}`);
    if (request !== startInputRequest || state.session) return; // a later choice answers
    const mode = ok ? data.modes.find((m) => m.id === state.mode.id) : null;
    setComposer({ placeholder: state.mode.placeholder, disabled: mode ? mode.input_disabled : errorText(data) });
  }

  function showStart() {
    closeSocket();
    state.session = null;
    state.messages.clear();
    state.streams.clear();
    history.replaceState(null, "", location.pathname);
    $("start").hidden = false;
    $("chat-header").hidden = true;
    $("messages").replaceChildren();
    $("composer").hidden = false;
    markCurrent();
    return refreshStartInput();
  }

  // --- The composer ---------------------------------------------------------------

  function setComposer({ placeholder, disabled, busy }) {
    const input = $("message-input");
    if (placeholder !== undefined) input.placeholder = placeholder;
    if (disabled !== undefined) {
      input.disabled = Boolean(disabled);
      $("send").disabled = Boolean(disabled);
      $("input-disabled").textContent = disabled || "";
      $("input-disabled").hidden = !disabled;
    }
    if (busy !== undefined) $("cancel").hidden = !busy;
  }

  function inProgress() {
    for (const message of state.messages.values()) {
      if (message.role === "user" && (message.status === "pending" || message.status === "processing")) {
        return message;
      }
    }
    return null;
  }

  function refreshComposer() {
    if (!state.session) return;
    const running = inProgress();
    if (running) {
      setComposer({ disabled: "Wait for the assistant to finish its reply.", busy: true });
    } else {
      setComposer({ disabled: state.session.input_disabled_other || null, busy: false });
    }
  }

  async function send(event) {
    event.preventDefault();
    const input = $("message-input");
    const content = input.value.trim();
    if (!content || input.disabled) return;
    setComposer({ disabled: "Sending…" });
    let result;
    const choice = modelChoice();
    if (state.session) {
      const options = { ...(contextOptions() || {}), ...(choice || {}) };
      const body = { content, ...(Object.keys(options).length ? { options } : {}) };
      result = await api("POST", `/api/sessions/${state.session.id}/messages/`, body);
    } else {
      const body = { mode: state.mode.id, content, ...startContext(), ...(choice ? { meta: choice } : {}) };
      result = await api("POST", "/api/sessions/", body);
    }
    const code = result.data && result.data.error;
    if (code === "queue_unavailable" && result.data.result) {
      // Saved: it is answered once the work queue is back.
      result = { ok: true, data: result.data.result };
      notify(errorText({ detail: "Your message is saved; the assistant answers it as soon as it can." }));
    } else if (!result.ok) {
      if (code === "disclaimer_required") return checkDisclaimer(); // the text stays in the box
      const text = errorText(result.data);
      notify(text, "error");
      if (code === "usage_limit") setComposer({ disabled: text });
      else if (state.session) refreshComposer();
      else await refreshStartInput();
      return;
    } else {
      notify("");
    }
    input.value = "";
    growInput();
    state.stick = true;
    if (state.session) {
      // The socket may have told of this message (and its progress) already.
      if (!state.messages.has(result.data.id)) addMessage(result.data);
      refreshComposer();
    } else {
      await loadSessions({ reset: true });
      await openSession(result.data.id, result.data);
    }
    input.focus();
  }

  async function cancel() {
    const running = inProgress();
    if (!running) return;
    const { ok, data } = await api("POST", `/api/messages/${running.id}/cancel/`);
    if (!ok) notify(errorText(data), "error");
  }

  async function retry(message) {
    const { ok, data } = await api("POST", `/api/messages/${message.id}/retry/`);
    if (!ok) return notify(errorText(data), "error");
    notify("");
    // The socket may have told of the new attempt already; never go back from it.
    const known = state.messages.get(message.id);
    if (known && (known.status === "error" || known.status === "cancelled")) updateMessage(data);
  }

  // --- A conversation -------------------------------------------------------------

  async function openSession(id, loaded) {
    closeSocket();
    let session = loaded;
    if (!session || !session.messages) {
      const { ok, data } = await api("GET", `/api/sessions/${id}/`);
      if (!ok) {
        notify(errorText(data), "error");
        return showStart();
      }
      session = data;
    }
    state.session = session;
    state.session.input_disabled_other = otherReason(session.input_disabled);
    state.feedback = new Map((session.feedback || []).map((f) => [f.message, f]));
    state.messages.clear();
    state.streams.clear();
    // The stream resumes after what this read shows (a fresh session: from the start).
    state.lastSeq = session.seq || 0;
    history.replaceState(null, "", `#session=${session.id}`);
    $("start").hidden = true;
    $("chat-header").hidden = false;
    $("composer").hidden = false;
    $("chat-title").textContent = session.title || "Untitled Chat";
    $("chat-mode").textContent = modeName(session.mode);
    $("export-markdown").href = `${ROOT}api/sessions/${session.id}/export?format=markdown`;
    $("export-json").href = `${ROOT}api/sessions/${session.id}/export?format=json`;
    const mode = state.modes.find((m) => m.id === session.mode);
    setComposer({ placeholder: mode ? mode.placeholder : "" });
    $("messages").replaceChildren();
    state.stick = true;
    for (const message of session.messages) addMessage(message);
    scrollDown(true);
    showModel(session.meta);
    showContextSwitches(session);
    loadShare(session);
    // A write still waiting for this user's decision, should the stream's log not have it.
    for (const call of session.tool_calls || []) {
      if (call.status === "pending" && streaming(call.message_id)) {
        toolCall(call.message_id, call.call_id, {
          name: call.name, arguments: call.arguments, preview: call.preview, state: "waiting",
        });
      }
    }
    refreshComposer();
    markCurrent();
    openSocket();
  }

  // The reason a reply is running is shown live; only the other reasons are kept.
  function otherReason(reason) {
    return reason && !/finish its reply/.test(reason) ? reason : null;
  }

  function addMessage(message) {
    if (state.messages.has(message.id)) return updateMessage(message);
    state.messages.set(message.id, message);
    const node = el("li", { className: `message ${message.role}`, dataset: { id: message.id } });
    // An answer goes after its question (a new answer to an earlier one lands in place).
    const question = message.reply_to && messageNode(message.reply_to);
    if (question) {
      const shown = answerOf(message.reply_to);
      if (shown) forget(shown.id);
      question.after(node);
    } else {
      $("messages").append(node);
    }
    renderMessage(message);
    if (message.role === "user" && message.status === "processing" && !state.streams.has(message.id)) {
      streamFor(message.id);
    }
    scrollDown();
  }

  function updateMessage(changes) {
    const message = state.messages.get(changes.id);
    if (!message) return addMessage(changes);
    Object.assign(message, changes);
    renderMessage(message);
    refreshComposer();
  }

  // The answer shown to a question, if any.
  function answerOf(questionId) {
    for (const message of state.messages.values()) {
      if (message.role === "assistant" && message.reply_to === questionId) return message;
    }
    return null;
  }

  function forget(id) {
    const node = messageNode(id);
    if (node) node.remove();
    state.messages.delete(id);
  }

  // Reads the conversation again (another branch or version is shown now).
  function reload() {
    if (state.session) openSession(state.session.id);
  }

  function messageNode(id) {
    return document.querySelector(`.message[data-id="${CSS.escape(id)}"]`);
  }

  function renderMessage(message) {
    const node = messageNode(message.id);
    if (!node) return;
    node.className = `message ${message.role} status-${message.status}`;
    const parts = [el("div", { className: "who" }, message.role === "user" ? "You" : "Assistant", " ",
      timeNode(message.created_at))];
    // The tools the answer called, collapsed (without arguments and results for viewers).
    const calls = (message.role === "assistant" && message.meta && message.meta.tools) || [];
    for (const call of calls) {
      parts.push(toolNode(message.id, call.call_id, {
        name: call.name, state: call.ok ? "done" : "failed", arguments: call.arguments,
        result: call.result, error: call.error,
      }));
    }
    parts.push(message.role === "user" ? el("div", { className: "text" }, message.content) : markdown(message.content));
    if (message.code) parts.push(templateBlock(message));
    if (message.role === "assistant") parts.push(feedbackBlock(message));
    const badge = message.role === "user" && BADGES[message.status];
    if (badge) parts.push(el("span", { className: `badge ${message.status}` }, badge));
    if (message.status === "error") {
      parts.push(el("p", { className: "error", role: "alert" }, message.error || "The assistant could not answer."));
    }
    if (message.role === "user" && (message.status === "error" || message.status === "cancelled")) {
      const again = el("button", { type: "button", className: "secondary retry" }, "Retry");
      again.addEventListener("click", () => retry(message));
      parts.push(again);
    }
    parts.push(turnControls(message));
    node.replaceChildren(...parts);
  }

  function timeNode(at) {
    if (!at) return null;
    const date = new Date(at);
    const today = new Date().toDateString() === date.toDateString();
    const text = today
      ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    return el("time", { dateTime: at, title: date.toLocaleString(), className: "muted" }, text);
  }

  // "2 / 3" with the versions of the turn (edits of a question, answers to it), and
  // the buttons that make another: Edit on a question, Regenerate on an answer.
  function turnControls(message) {
    const bar = el("div", { className: "turn" });
    const versions = message.versions;
    if (versions && versions.ids.length > 1) {
      const at = versions.index;
      const step = (by, label, text) => {
        const button = el("button", { type: "button", className: "link version-step", "aria-label": label,
          disabled: at + by < 0 || at + by >= versions.ids.length }, text);
        button.addEventListener("click", () => showVersion(versions.ids[at + by]));
        return button;
      };
      bar.append(step(-1, "Previous version", "‹"),
        el("span", { className: "versions muted" }, `${at + 1} / ${versions.ids.length}`),
        step(1, "Next version", "›"));
    }
    const writable = state.session && !state.session.input_disabled_other;
    if (message.role === "assistant" && message.status === "success") {
      const copy = el("button", { type: "button", className: "link copy-answer" }, "Copy");
      copy.addEventListener("click", () => window.Assistant.copyText(message.content, copy));
      bar.append(copy);
    }
    if (writable && message.status === "success" && message.role === "assistant" && message.reply_to) {
      const again = el("button", { type: "button", className: "link regenerate" }, "Regenerate");
      again.addEventListener("click", () => regenerate(message));
      bar.append(again);
    }
    if (writable && message.role === "user" && !["pending", "processing"].includes(message.status)) {
      const edit = el("button", { type: "button", className: "link edit" }, "Edit");
      edit.addEventListener("click", () => startEdit(message));
      bar.append(edit);
    }
    return bar;
  }

  async function showVersion(id) {
    const { ok, data } = await api("POST", `/api/messages/${id}/show/`);
    if (!ok) return notify(errorText(data), "error");
    notify("");
    openSession(data.id, data);
  }

  async function regenerate(message) {
    if (inProgress()) return notify("Wait for the assistant to finish its reply.", "error");
    const choice = modelChoice();
    const { ok, data } = await api("POST", `/api/messages/${message.id}/regenerate/`, choice ? { options: choice } : {});
    if (!ok && !(data && data.error === "queue_unavailable")) return notify(errorText(data), "error");
    notify("");
    regenerating(message.reply_to);
    const known = state.messages.get(message.reply_to);
    if (known && known.status === "success") updateMessage({ id: known.id, status: "pending", error: "" });
  }

  // A question answered again: its shown answer gives way to the stream of the new one.
  function regenerating(questionId) {
    const shown = answerOf(questionId);
    if (shown) forget(shown.id);
    const question = state.messages.get(questionId);
    if (question) question.regenerating = true;
  }

  function startEdit(message) {
    const node = messageNode(message.id);
    if (!node) return;
    const box = el("textarea", { className: "edit-input", rows: 3, maxLength: 10000, value: message.content,
      "aria-label": "Edit your question" });
    const save = el("button", { type: "submit" }, "Send");
    const close = el("button", { type: "button", className: "secondary" }, "Cancel");
    const form = el("form", { className: "edit-form" }, box, el("div", { className: "turn" }, save, close));
    close.addEventListener("click", () => renderMessage(message));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const content = box.value.trim();
      if (!content) return;
      save.disabled = true;
      const choice = modelChoice();
      const { ok, data } = await api("POST", `/api/messages/${message.id}/edit/`,
        { content, ...(choice ? { options: choice } : {}) });
      if (!ok && !(data && data.error === "queue_unavailable")) {
        save.disabled = false;
        return notify(errorText(data), "error");
      }
      notify("");
      reload();
    });
    node.replaceChildren(el("div", { className: "who" }, "You"), form);
    box.focus();
  }

  // Thumbs up or down on an answer, and an optional comment.
  function feedbackBlock(message) {
    const mine = state.feedback.get(message.id) || {};
    const block = el("div", { className: "feedback" });
    for (const [rating, label, text] of [["up", "Good answer", "👍"], ["down", "Bad answer", "👎"]]) {
      const button = el("button", { type: "button", className: `link rate ${rating}`, "aria-label": label,
        "aria-pressed": String(mine.rating === rating) }, text);
      button.addEventListener("click", () => rate(message, rating, mine.comment || ""));
      block.append(button);
    }
    if (mine.rating) {
      const comment = el("input", { type: "text", className: "feedback-comment", maxLength: 2000,
        placeholder: "Tell us more (optional)", value: mine.comment || "" });
      const save = el("button", { type: "button", className: "link save-comment" }, "Save");
      save.addEventListener("click", () => rate(message, mine.rating, comment.value.trim()));
      block.append(comment, save);
    }
    return block;
  }

  async function rate(message, rating, comment) {
    const { ok, data } = await api("PUT", `/api/messages/${message.id}/feedback/`, { rating, comment });
    if (!ok) return notify(errorText(data), "error");
    state.feedback.set(message.id, { rating: data.rating, comment: data.comment });
    notify(comment ? "Thanks for your feedback." : "");
    renderMessage(message);
  }

  function templateBlock(message) {
    const errors = (message.meta && message.meta.validation_errors) || [];
    const block = el("div", { className: "template" });
    if (!(message.content || "").includes(message.code.trim())) {
      // Shown on its own only when the answer's text does not already show it.
      block.append(el("div", { className: "template-head" }, state.session && state.session.mode === "workflow_template"
        ? "Workflow template" : "Code"), el("pre", {}, el("code", {}, message.code)));
    }
    if (!state.session || state.session.mode !== "workflow_template") return block;
    if (errors.length) {
      block.append(el("p", { className: "error" }, "This template has errors; the next message asks for a fix:"),
        el("ul", { className: "validation-errors" }, ...errors.map((e) => el("li", {}, e))));
    } else {
      const apply = el("button", { type: "button", className: "apply" }, "Apply template");
      apply.addEventListener("click", () => applyTemplate(message, block, apply));
      block.append(el("p", { className: "ok" }, "The template is valid."), apply);
    }
    return block;
  }

  // Applying asks the API first what it would change (a dry run): a new workflow is
  // created at once; changes to an existing one are shown and wait for a confirmation.
  async function applyTemplate(message, block, button) {
    button.disabled = true;
    const preview = await api("POST", `/api/sessions/${state.session.id}/apply/`,
      { dry_run: true, message: message.id });
    if (!preview.ok) {
      button.disabled = false;
      return notify(errorText(preview.data), "error");
    }
    if (preview.data.changes.workflow.created) return commitTemplate(message, button);
    showChanges(message, block, button, preview.data.changes);
  }

  async function commitTemplate(message, button) {
    const { ok, data } = await api("POST", `/api/sessions/${state.session.id}/apply/`, { message: message.id });
    button.disabled = false;
    if (!ok) {
      notify(errorText(data), "error");
      return false;
    }
    state.session.workflow = data.workflow;
    notify(data.changes.summary, "success");
    return true;
  }

  const counted = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

  function changeLines(changes) {
    const { workflow, jobs: names, removed_history: history } = changes;
    const lines = [];
    if (workflow.renamed_from) lines.push(`Renames the workflow “${workflow.renamed_from}” to “${workflow.name}”.`);
    if (names.added.length) lines.push(`Adds ${counted(names.added.length, "job")}: ${names.added.join(", ")}.`);
    if (names.updated.length) lines.push(`Updates ${counted(names.updated.length, "job")}: ${names.updated.join(", ")}.`);
    if (names.removed.length) {
      let line = `Removes ${counted(names.removed.length, "job")}: ${names.removed.join(", ")}.`;
      const lost = [history.runs && counted(history.runs, "run"),
        history.conversations && counted(history.conversations, "conversation")].filter(Boolean);
      if (lost.length) line += ` Their ${lost.join(" and ")} are deleted with them.`;
      lines.push(line);
    }
    if (!lines.length) {
      lines.push(workflow.spec_changed ? "Updates the workflow's triggers and edges."
        : "Nothing changes: the workflow already matches the template.");
    }
    return lines;
  }

  function showChanges(message, block, button, changes) {
    const old = block.querySelector(".apply-preview");
    if (old) old.remove();
    const current = changes.workflow.renamed_from || changes.workflow.name;
    const confirm = el("button", { type: "button", className: "apply-confirm" }, "Apply changes");
    const dismiss = el("button", { type: "button", className: "secondary apply-cancel" }, "Cancel");
    const panel = el("div", { className: "apply-preview", role: "group", "aria-label": "Changes to the workflow" },
      el("p", { className: "apply-question" }, `Apply this template to the existing workflow “${current}”?`),
      el("ul", { className: "apply-changes" }, ...changeLines(changes).map((line) => el("li", {}, line))),
      el("div", { className: "apply-actions" }, confirm, dismiss));
    confirm.addEventListener("click", async () => {
      confirm.disabled = dismiss.disabled = true;
      if (await commitTemplate(message, button)) panel.remove();
      else confirm.disabled = dismiss.disabled = false;
    });
    dismiss.addEventListener("click", () => {
      panel.remove();
      button.disabled = false;
      button.focus();
    });
    block.append(panel);
    confirm.focus();
  }

  // --- Streaming ------------------------------------------------------------------

  function streamFor(messageId) {
    let stream = state.streams.get(messageId);
    if (!stream) {
      const node = el("li", { className: "message assistant streaming", dataset: { replyTo: messageId } });
      stream = { text: "", tools: new Map(), node };
      state.streams.set(messageId, stream);
      const question = messageNode(messageId);
      if (question) question.after(node); else $("messages").append(node);
      renderStream(messageId);
    }
    return stream;
  }

  function dropStream(messageId) {
    const stream = state.streams.get(messageId);
    if (stream) stream.node.remove();
    state.streams.delete(messageId);
  }

  function queueRender(messageId) {
    if (state.renderQueued.has(messageId)) return;
    state.renderQueued.add(messageId);
    requestAnimationFrame(() => {
      state.renderQueued.delete(messageId);
      renderStream(messageId);
    });
  }

  function renderStream(messageId) {
    const stream = state.streams.get(messageId);
    if (!stream) return;
    const parts = [el("div", { className: "who" }, "Assistant")];
    for (const [callId, tool] of stream.tools) parts.push(toolNode(messageId, callId, tool));
    parts.push(stream.text ? markdown(stream.text) : el("div", { className: "typing muted" }, "Thinking…"));
    stream.node.replaceChildren(...parts);
    scrollDown();
  }

  // A tool call: its name, collapsed arguments and result; a write waiting for this
  // user's decision shows what it would change, with Approve and Reject.
  const TOOL_LABELS = {
    running: (name) => `Using ${name}…`,
    waiting: (name) => `${name} waits for your approval`,
    deciding: (name) => `${name}: sending your decision…`,
    done: (name) => `Used ${name}`,
    failed: (name) => `${name} did not run`,
  };

  const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

  function toolNode(messageId, callId, tool) {
    const node = el("details", { className: `tool ${tool.state}`, dataset: { callId, tool: tool.name } });
    node.open = Boolean(tool.open) || tool.state === "waiting";
    node.addEventListener("toggle", () => { tool.open = node.open; });
    node.append(el("summary", {}, TOOL_LABELS[tool.state](tool.name)));
    if (tool.arguments !== undefined) {
      node.append(el("div", { className: "muted" }, "Arguments"), el("pre", { className: "tool-arguments" }, pretty(tool.arguments)));
    }
    if (tool.state === "waiting" || tool.state === "deciding") {
      const preview = tool.preview || {};
      if (preview.diff !== undefined) {
        node.append(el("div", { className: "muted" }, "The change"), diffNode(preview.diff));
      } else if (tool.preview) {
        node.append(el("pre", { className: "tool-preview" }, pretty(tool.preview)));
      }
      const approve = el("button", { type: "button", className: "primary", textContent: "Approve" });
      const reject = el("button", { type: "button", textContent: "Reject" });
      approve.disabled = reject.disabled = tool.state === "deciding";
      approve.addEventListener("click", () => decide(messageId, callId, tool, "approve"));
      reject.addEventListener("click", () => decide(messageId, callId, tool, "reject"));
      node.append(el("div", { className: "tool-decision" }, approve, reject));
    }
    if (tool.result !== undefined) {
      node.append(el("div", { className: "muted" }, "Result"), el("pre", { className: "tool-result" }, pretty(tool.result)));
    }
    if (tool.error) node.append(el("pre", { className: "tool-error" }, tool.error));
    return node;
  }

  function diffNode(diff) {
    const pre = el("pre", { className: "diff" });
    for (const line of diff.split("\n")) {
      const kind = line.startsWith("+") && !line.startsWith("+++") ? "added"
        : line.startsWith("-") && !line.startsWith("---") ? "removed" : "";
      pre.append(el("span", { className: kind }, `${line}\n`));
    }
    return pre;
  }

  async function decide(messageId, callId, tool, decision) {
    tool.state = "deciding";
    renderStream(messageId);
    const { ok, data } = await api("POST", `/api/messages/${messageId}/tools/${encodeURIComponent(callId)}/${decision}/`);
    if (!ok) {
      notify(errorText(data), "error");
      if (tool.state === "deciding") tool.state = "failed";
    } else if (tool.state === "deciding") {
      tool.state = decision === "approve" ? "running" : "failed";
    }
    renderStream(messageId);
  }

  function toolCall(messageId, callId, fields) {
    const stream = streamFor(messageId);
    const tool = stream.tools.get(callId) || {};
    stream.tools.set(callId, Object.assign(tool, fields));
    queueRender(messageId);
  }

  // The conversation follows new text while the reader is at its end; scrolled up,
  // it stays put and "↓" takes them back down.
  function nearBottom() {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollDown(force = false) {
    const list = $("messages");
    if (force) state.stick = true;
    if (state.stick) list.scrollTop = list.scrollHeight;
    $("to-bottom").hidden = state.stick || nearBottom();
  }

  function answered(messageId) {
    const message = state.messages.get(messageId);
    return message && message.status === "success";
  }

  // Tokens and tool calls belong to a running attempt; a late one after a cancel or a
  // failure is dropped (a new attempt starts with its own "processing" status).
  function streaming(messageId) {
    const message = state.messages.get(messageId);
    return Boolean(message && message.status === "processing");
  }

  // The status changes a message can make. A page that loaded a conversation and then
  // replays its log from the start sees older changes again: they are not these, and
  // are dropped, so the page never goes back from what it loaded (and its reply box
  // never closes for a moment while the replay runs).
  const NEXT_STATUS = {
    pending: ["pending", "processing", "error", "cancelled"],
    processing: ["pending", "processing", "success", "error", "cancelled"],
    error: ["pending"],
    cancelled: ["pending"],
    success: ["pending"], // answered again (regenerated)
  };

  const handlers = {
    "message.created": (event) => {
      if (!state.messages.has(event.message.id)) addMessage(event.message);
    },
    "message.status": (event) => {
      const message = state.messages.get(event.message_id);
      if (!message || !(NEXT_STATUS[message.status] || []).includes(event.status)) return;
      if (message.status === "success" && event.status === "pending") regenerating(message.id);
      // Answered, with no answer here: a new answer was cancelled and the one it had is back.
      if (event.status === "success" && message.regenerating && !answerOf(message.id)) return reload();
      if (event.status === "processing") {
        dropStream(event.message_id); // a new attempt streams from the start
        streamFor(event.message_id);
      } else if (event.status !== "success") {
        dropStream(event.message_id);
      }
      updateMessage({ id: event.message_id, status: event.status, error: event.error || "" });
    },
    token: (event) => {
      if (!streaming(event.message_id)) return;
      const stream = streamFor(event.message_id);
      stream.text += event.delta;
      queueRender(event.message_id);
    },
    "tool.start": (event) => {
      if (!streaming(event.message_id)) return;
      toolCall(event.message_id, event.call_id, { name: event.name, arguments: event.arguments, state: "running" });
    },
    "tool.approval": (event) => {
      if (!streaming(event.message_id)) return;
      toolCall(event.message_id, event.call_id, {
        name: event.name, arguments: event.arguments, preview: event.preview, state: "waiting",
      });
    },
    "tool.end": (event) => {
      if (!streaming(event.message_id)) return;
      toolCall(event.message_id, event.call_id, {
        name: event.name, state: event.ok ? "done" : "failed", result: event.result, error: event.error,
      });
    },
    "message.completed": (event) => {
      dropStream(event.reply_to);
      const question = state.messages.get(event.reply_to);
      // A new version of an answer: read again, for the versions it has now.
      if (question && question.regenerating) {
        loadUsage();
        return reload();
      }
      addMessage(event.message);
      if (question) updateMessage({ id: question.id, status: "success", error: "" });
      loadUsage();
    },
    "message.error": (event) => {
      dropStream(event.message_id);
      if (!answered(event.message_id)) updateMessage({ id: event.message_id, status: "error", error: event.error });
    },
    // Who may see the conversation changed (its visibility, the project's members): the
    // socket is closed if this user lost it; otherwise what they may do is read again.
    // The model titled the conversation after its first answer.
    "session.updated": (event) => {
      if (state.session && event.leaf && event.leaf !== state.session.leaf) return reload();
      if (!state.session || typeof event.title !== "string") return;
      state.session.title = event.title;
      $("chat-title").textContent = event.title;
      for (const item of document.querySelectorAll(".session-item")) {
        if (item.dataset.id === state.session.id) item.querySelector(".session-title").textContent = event.title;
      }
    },
    "session.access": async () => {
      const session = state.session;
      const { ok, data } = await api("GET", `/api/sessions/${session.id}/`);
      if (!ok || state.session !== session) return;
      session.input_disabled_other = otherReason(data.input_disabled);
      refreshComposer();
    },
  };

  function openSocket() {
    if (!state.session) return;
    const sessionId = state.session.id;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${ROOT}ws/sessions/${sessionId}/`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.reconnectDelay = 500;
      $("app").dataset.connection = "open";
      socket.send(JSON.stringify({ action: "resume", after: state.lastSeq }));
    });
    socket.addEventListener("message", (frame) => {
      let event;
      try { event = JSON.parse(frame.data); } catch { return; }
      if (event.type === "error") return notify(errorText(event), "error");
      if (event.seq) {
        if (event.seq <= state.lastSeq) return; // seen already
        state.lastSeq = event.seq;
      }
      const handler = handlers[event.type];
      if (handler) handler(event);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return; // replaced on purpose
      $("app").dataset.connection = "closed";
      state.socket = null;
      if ([4401, 4403, 4404].includes(event.code)) {
        setComposer({ disabled: "This conversation is not available to you any more.", busy: false });
        return notify(event.code === 4401 ? "Your login has ended; log in again." : "This conversation is not available to you any more.", "error");
      }
      const delay = state.reconnectDelay;
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 5000);
      setTimeout(() => {
        if (state.session && state.session.id === sessionId && !state.socket) openSocket();
      }, delay);
    });
  }

  function closeSocket() {
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.close(1000);
  }

  // The message box grows with what is typed, up to a third of the window.
  function growInput() {
    const input = $("message-input");
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, window.innerHeight / 3)}px`;
  }

  // What goes with a question, in modes that offer it (the job's code, logs, input, output).
  async function showContextSwitches(session) {
    const mode = state.modes.find((m) => m.id === session.mode);
    $("context-switches").hidden = !(mode && mode.enable_attachment_options);
    const picker = $("context-run");
    picker.replaceChildren(el("option", { value: "" }, "No run"));
    if ($("context-switches").hidden || !session.job) return;
    const { ok, data } = await api("GET", `/api/runs/?job=${encodeURIComponent(session.job)}&limit=20`);
    if (!ok || state.session !== session) return;
    for (const run of data.results) {
      picker.append(el("option", { value: String(run.id) }, `Run ${run.id} · ${run.state} · ${shortTime(run.created_at || run.started_at || "")}`));
    }
    const followed = session.meta && session.meta.follow_run_id;
    picker.value = followed && [...picker.options].some((o) => o.value === String(followed))
      ? String(followed) : (data.results[0] ? String(data.results[0].id) : "");
  }

  function contextOptions() {
    if ($("context-switches").hidden) return null;
    const options = {};
    for (const box of $("context-switches").querySelectorAll("input[type=checkbox]")) options[box.name] = box.checked;
    if ($("context-run").value) options.run = Number($("context-run").value);
    return options;
  }

  // --- Usage ----------------------------------------------------------------------

  // This user's tokens this period, against their limit: read again after each answer.
  async function loadUsage() {
    const { ok, data } = await api("GET", "/api/usage/");
    if (!ok) return;
    const period = data.period === "day" ? "today" : "this month";
    const used = data.used.toLocaleString("en");
    const resets = new Date(data.resets_at).toLocaleDateString(undefined, { month: "short", day: "numeric" });
    $("usage-text").textContent = data.limit
      ? `${used} of ${data.limit.toLocaleString("en")} tokens ${period} (resets ${resets})`
      : `${used} tokens ${period}`;
    const meter = $("usage-meter");
    meter.hidden = !data.limit;
    if (data.limit) {
      meter.max = data.limit;
      meter.high = data.limit * 0.8;
      meter.value = Math.min(data.used, data.limit);
    }
    $("usage").hidden = false;
  }

  // --- Share links ----------------------------------------------------------------

  // Only who may change the conversation may share it; the link is shown once, when
  // it is made (only its hash is kept), and "Stop sharing" revokes it.
  async function loadShare(session) {
    $("share").hidden = true;
    $("share-box").hidden = true;
    const { ok, data } = await api("GET", `/api/sessions/${session.id}/share/`);
    if (!ok || state.session !== session) return;
    showShare(data);
  }

  function showShare({ shared, url }) {
    $("share").hidden = Boolean(shared);
    $("share").textContent = "Share";
    $("share-box").hidden = !shared;
    $("share-state").textContent = url ? "Anyone with this link can read the conversation:" : "Shared by link.";
    $("share-url").hidden = !url;
    $("share-copy").hidden = !url;
    $("share-url").value = url || "";
  }

  async function share() {
    const { ok, data } = await api("POST", `/api/sessions/${state.session.id}/share/`);
    if (!ok) return notify(errorText(data), "error");
    showShare(data);
    $("share-url").select();
  }

  async function stopSharing() {
    const { ok, data } = await api("DELETE", `/api/sessions/${state.session.id}/share/`);
    if (!ok) return notify(errorText(data), "error");
    showShare({ shared: false });
    notify("The link no longer opens this conversation.");
  }

  async function copyShare() {
    try {
      await navigator.clipboard.writeText($("share-url").value);
      notify("Link copied.");
    } catch {
      $("share-url").select();
      notify("Select the link and copy it.");
    }
  }

  // --- Model choice ----------------------------------------------------------------

  async function loadModels() {
    const { ok, data } = await api("GET", "/api/models/");
    if (!ok) return;
    state.models = data;
    const picker = $("model-picker");
    picker.replaceChildren(...data.models.map((m) => el("option", { value: m.id }, m.label)));
    $("effort-picker").replaceChildren(el("option", { value: "" }, "Default effort"),
      ...data.reasoning_efforts.map((e) => el("option", { value: e }, `Effort: ${e}`)));
    picker.hidden = data.models.length < 2;
    showModel(state.session && state.session.meta);
  }

  // The session's last choice (or the default) in the pickers.
  function showModel(meta) {
    if (!state.models) return;
    const known = state.models.models.map((m) => m.id);
    const chosen = meta && known.includes(meta.model) ? meta.model : state.models.default;
    $("model-picker").value = chosen;
    $("effort-picker").value = (meta && meta.model === chosen && meta.reasoning_effort) || "";
    refreshEffort();
  }

  function refreshEffort() {
    const model = state.models && state.models.models.find((m) => m.id === $("model-picker").value);
    $("effort-picker").hidden = !(model && model.reasoning);
  }

  // What a message or a new conversation sends: only when there is a choice to make.
  function modelChoice() {
    if (!state.models || $("model-picker").hidden) return null;
    const choice = { model: $("model-picker").value };
    if (!$("effort-picker").hidden && $("effort-picker").value) choice.reasoning_effort = $("effort-picker").value;
    return choice;
  }

  // --- Writes outside agents made over MCP, waiting for this user -------------------

  const AGENT_CALLS_EVERY = 5000;

  async function loadAgentCalls() {
    if (document.hidden) return;
    const { ok, data } = await api("GET", "/api/tool-calls/");
    if (!ok) return;
    $("agent-call-list").replaceChildren(...data.map(agentCallItem));
    $("agent-calls").hidden = data.length === 0;
  }

  function agentCallItem(call) {
    const item = el("li", { className: "agent-call", dataset: { id: call.id } },
      el("div", {}, el("strong", {}, call.name), " wants to run with"),
      el("pre", { className: "tool-arguments" }, pretty(call.arguments)));
    if (call.preview && call.preview.diff !== undefined) item.append(diffNode(call.preview.diff));
    const approve = el("button", { type: "button", className: "primary" }, "Approve");
    const reject = el("button", { type: "button" }, "Reject");
    const decide = async (decision) => {
      approve.disabled = reject.disabled = true;
      const { ok, data } = await api("POST", `/api/tool-calls/${call.id}/${decision}/`);
      if (!ok) notify(errorText(data), "error");
      loadAgentCalls();
    };
    approve.addEventListener("click", () => decide("approve"));
    reject.addEventListener("click", () => decide("reject"));
    item.append(el("div", { className: "tool-decision" }, approve, reject));
    return item;
  }

  // --- API keys for outside agents (MCP) -------------------------------------------

  async function loadKeys() {
    const { ok, data } = await api("GET", "/api/keys/");
    if (ok) $("key-list").replaceChildren(...data.map(keyItem));
  }

  function keyItem(key) {
    const revoke = el("button", { type: "button", className: "link danger", "aria-label": `Revoke ${key.name}` },
      "Revoke");
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      const { ok, data } = await api("DELETE", `/api/keys/${key.id}/`);
      if (!ok) notify(errorText(data), "error");
      loadKeys();
    });
    return el("li", { className: "key-item", dataset: { id: key.id } },
      el("span", { className: "key-name" }, key.name), " ", el("code", {}, `${key.hint}…`),
      key.can_write ? el("span", { className: "badge" }, "writes") : null, " ", revoke);
  }

  async function makeKey(event) {
    event.preventDefault();
    const name = $("key-name").value.trim();
    if (!name) return;
    const { ok, data } = await api("POST", "/api/keys/", { name, can_write: $("key-write").checked });
    if (!ok) {
      notify(errorText(data), "error");
      return;
    }
    $("key-name").value = "";
    $("key-write").checked = false;
    $("new-key").querySelector("code").textContent = data.key;
    $("new-key").hidden = false;
    loadKeys();
  }

  // --- Wiring ---------------------------------------------------------------------

  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function start() {
    $("disclaimer-accept").addEventListener("click", acceptDisclaimer);
    $("new-chat").addEventListener("click", showStart);
    $("load-more").addEventListener("click", () => loadSessions({ reset: false }));
    $("share").addEventListener("click", share);
    $("messages").addEventListener("scroll", () => {
      state.stick = nearBottom();
      $("to-bottom").hidden = state.stick;
    });
    $("to-bottom").addEventListener("click", () => scrollDown(true));
    $("message-input").addEventListener("input", growInput);
    $("share-stop").addEventListener("click", stopSharing);
    $("share-copy").addEventListener("click", copyShare);
    $("session-sort").addEventListener("change", (event) => {
      state.list.sort = event.target.value;
      loadSessions({ reset: true });
    });
    $("session-search").addEventListener("input", debounce((event) => {
      state.list.search = event.target.value.trim();
      loadSessions({ reset: true });
    }, 250));
    $("pick-project").addEventListener("change", refreshWorkflows);
    $("pick-workflow").addEventListener("change", refreshJobs);
    $("pick-job").addEventListener("change", refreshStartInput);
    $("composer").addEventListener("submit", send);
    $("message-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
    });
    $("cancel").addEventListener("click", cancel);
    $("mcp-url").textContent = `${location.origin}${ROOT}mcp/`;
    $("api-keys").addEventListener("toggle", () => { if ($("api-keys").open) loadKeys(); });
    $("key-form").addEventListener("submit", makeKey);
    $("model-picker").addEventListener("change", refreshEffort);
    loadModels();
    loadAgentCalls();
    setInterval(loadAgentCalls, AGENT_CALLS_EVERY);
    document.addEventListener("visibilitychange", loadAgentCalls);
    window.addEventListener("online", () => { if (!state.socket) openSocket(); });
    window.addEventListener("hashchange", () => {
      const id = new URLSearchParams(location.hash.slice(1)).get("session");
      if (id && (!state.session || state.session.id !== id)) openSession(id);
    });
    checkDisclaimer();
  }

  // For operators and tests: drop the live connection as a network failure would.
  window.assistantChat = { dropConnection: () => state.socket && state.socket.close(4000) };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
