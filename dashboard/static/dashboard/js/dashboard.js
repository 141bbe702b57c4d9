/* The staff dashboard: polls /dashboard/state every two seconds while the tab is
 * visible and renders each section of the snapshot in place (rows are kept and
 * updated by id, so focus and scroll survive; a task's log gets its new lines
 * appended); submits events, retries failed messages and cancels schedules through
 * the dashboard's JSON endpoints. */
(() => {
  "use strict";

  const POLL_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  const ZERO_ID = "00000000-0000-0000-0000-000000000000";

  const { $, el, errorText, notify } = window.Assistant;
  const request = window.Assistant.request;

  const root = $("dashboard");
  const urls = {
    state: root.dataset.stateUrl,
    event: root.dataset.eventUrl,
    retry: (id) => root.dataset.retryUrl.replace(ZERO_ID, encodeURIComponent(id)),
    cancel: (id) => root.dataset.cancelUrl.replace(ZERO_ID, encodeURIComponent(id)),
  };
  // The actions this staff member has the permissions of (the server checks them too).
  const can = { retry: root.dataset.canRetry === "true", cancel: root.dataset.canCancel === "true" };

  // --- Formatting -----------------------------------------------------------------

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const today = new Date().toDateString() === date.toDateString();
    return today ? date.toLocaleTimeString() : date.toLocaleString();
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }

  // --- Rendering in place ---------------------------------------------------------

  /* A cell is a string or number, or {text, className, title}, or {build: () => Node,
   * update?: (node) => void} (built once; later snapshots only call ``update`` on it). */
  function setCell(td, spec) {
    if (spec && typeof spec === "object" && spec.build) {
      if (!td.firstChild) td.append(spec.build());
      if (spec.update) spec.update(td.firstChild);
      return;
    }
    const cell = spec && typeof spec === "object" ? spec : { text: spec };
    const text = cell.text === null || cell.text === undefined ? "" : String(cell.text);
    if (td.textContent !== text) td.textContent = text;
    const className = cell.className || "";
    if (td.className !== className) td.className = className;
    const title = cell.title || "";
    if (td.title !== title) td.title = title;
  }

  /* The rows of ``tbody`` become ``items`` in order: a row per ``item.id``, kept
   * across snapshots and only changed where its cells changed. */
  function syncRows(tbody, items, cells, rowClass = () => "") {
    const existing = new Map([...tbody.rows].map((row) => [row.dataset.id, row]));
    items.forEach((item, index) => {
      const specs = cells(item);
      let row = existing.get(item.id);
      existing.delete(item.id);
      if (!row) {
        row = el("tr", { dataset: { id: item.id } });
        specs.forEach(() => row.append(el("td")));
      }
      // In place before its cells are set, so that they can measure and scroll.
      if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null);
      specs.forEach((spec, i) => setCell(row.cells[i], spec));
      const className = rowClass(item);
      if (row.className !== className) row.className = className;
    });
    for (const row of existing.values()) row.remove();
  }

  /* Count boxes, one per [key, label], built once and updated. */
  function renderCounts(container, labels, counts) {
    for (const [key, label] of labels) {
      let box = container.querySelector(`[data-count="${key}"]`);
      if (!box) {
        box = el("div", { className: `count count-${key}`, dataset: { count: key } },
          el("span", { className: "count-value" }), el("span", { className: "count-label" }));
        container.append(box);
      }
      const value = String(counts[key] ?? 0);
      const valueNode = box.querySelector(".count-value");
      if (valueNode.textContent !== value) valueNode.textContent = value;
      const labelNode = box.querySelector(".count-label");
      if (labelNode.textContent !== label) labelNode.textContent = label;
      box.classList.toggle("nonzero", value !== "0");
    }
  }

  function statusCell(value) {
    return { text: value, className: `status state-${value}` };
  }

  const dashboard = { lastSubmitted: null };

  function renderEvents(section) {
    const span = `${section.window_hours} h`;
    renderCounts($("event-counts"), [
      ["queued", "Queued"],
      ["processing", "Processing"],
      ["handled", `Handled (${span})`],
      ["unhandled", `Unhandled (${span})`],
      ["failed", `Failed (${span})`],
    ], section.counts);
    syncRows(
      $("events-table").tBodies[0],
      section.recent,
      (e) => [
        { text: when(e.received_at), className: "time", title: e.received_at },
        { text: e.type, className: "type" },
        e.source,
        e.userID,
        statusCell(e.status),
        { text: e.handler, className: "handler" },
        { text: e.attempts, className: "attempts" },
        { text: when(e.finished_at), className: "time", title: e.duration_ms === null ? "" : `took ${duration(e.duration_ms)}` },
        { text: e.last_error, className: "error-text" },
      ],
      (e) => (e.id === dashboard.lastSubmitted ? "fresh" : ""),
    );
    $("events-empty").hidden = section.recent.length > 0;
  }

  function retryButton(message) {
    return () => el("button", {
      type: "button",
      className: "secondary small retry",
      textContent: "Retry",
      "aria-label": `Retry the message of ${message.userID} that failed at ${when(message.failed_at)}`,
      onclick: (event) => retry(message.id, event.currentTarget),
    });
  }

  function renderMessages(section) {
    renderCounts($("message-counts"), [
      ["pending", "Pending"],
      ["processing", "Processing"],
      ["failed", "Failed"],
    ], section.counts);
    const { recent, processing, total } = section.durations;
    $("durations-summary").textContent = recent.length
      ? `Last ${recent.length}: processing ${duration(processing.median_ms)} median, ${duration(processing.max_ms)} at most; ` +
        `question to answer ${duration(total.median_ms)} median, ${duration(total.max_ms)} at most.`
      : "";
    syncRows($("durations-table").tBodies[0], recent, (m) => [
      { text: when(m.completed_at), className: "time", title: m.completed_at },
      m.userID,
      m.mode,
      { text: m.attempts, className: "attempts" },
      { text: duration(m.processing_ms), className: "duration" },
      { text: duration(m.total_ms), className: "duration" },
    ]);
    $("durations-empty").hidden = recent.length > 0;
    syncRows($("failed-table").tBodies[0], section.failed, (m) => [
      { text: when(m.failed_at), className: "time", title: m.failed_at },
      m.userID,
      m.mode,
      { text: m.content, className: "preview" },
      { text: m.error, className: "error-text" },
      { text: m.attempts, className: "attempts" },
      ...(can.retry ? [{ build: retryButton(m) }] : []),
    ]);
    $("failed-empty").hidden = section.failed.length > 0;
  }

  // Ratings: counts, counts by model, and the latest (filtered by rating and model).
  function renderFeedback(section) {
    renderCounts($("feedback-counts"), [["up", "👍 Good"], ["down", "👎 Bad"], ["commented", "With a comment"]],
      section.counts);
    $("feedback-by-model").textContent = section.by_model
      .map((m) => `${m.model || "(no model)"}: ${m.up} 👍 ${m.down} 👎`).join(" · ");
    const picker = $("feedback-model");
    const known = new Set([...picker.options].map((o) => o.value));
    for (const { model } of section.by_model) {
      if (model && !known.has(model)) picker.append(el("option", { value: model }, model));
    }
    syncRows($("feedback-table").tBodies[0], section.recent, (f) => [
      { text: when(f.at), className: "time", title: f.at },
      f.userID,
      f.model,
      { text: f.rating === "up" ? "👍" : "👎", className: `rating ${f.rating}`, title: f.rating },
      { text: f.question || "", className: "preview" },
      { text: f.answer, className: "preview" },
      { text: f.comment, className: "preview" },
    ]);
    $("feedback-empty").hidden = section.recent.length > 0;
  }

  function feedbackFilters() {
    const query = new URLSearchParams();
    if ($("feedback-rating") && $("feedback-rating").value) query.set("rating", $("feedback-rating").value);
    if ($("feedback-model") && $("feedback-model").value) query.set("model", $("feedback-model").value);
    const text = query.toString();
    return text ? `?${text}` : "";
  }

  function scheduleWhen(s) {
    return s.kind === "once"
      ? { text: `once, ${when(s.run_at)}`, className: "schedule-when", title: s.run_at }
      : { text: `${s.cron} (${s.timezone})`, className: "schedule-when", title: "cron" };
  }

  function cancelButton(schedule) {
    return () => el("button", {
      type: "button",
      className: "secondary small cancel",
      textContent: "Cancel",
      "aria-label": `Cancel the ${schedule.type} schedule of ${schedule.userID}`,
      onclick: (event) => cancelSchedule(schedule, event.currentTarget),
    });
  }

  function renderSchedules(section) {
    const span = `${section.window_hours} h`;
    renderCounts($("schedule-counts"), [
      ["active", "Active"],
      ["done", `Done (${span})`],
      ["cancelled", `Cancelled (${span})`],
    ], section.counts);
    syncRows($("schedules-table").tBodies[0], section.active, (s) => [
      { text: when(s.next_run), className: "time next-run", title: s.next_run },
      { text: s.type, className: "type" },
      s.userID,
      scheduleWhen(s),
      { text: when(s.last_run), className: "time", title: s.last_run },
      { text: s.run_count, className: "runs" },
      ...(can.cancel ? [{ build: cancelButton(s) }] : []),
    ]);
    $("schedules-empty").hidden = section.active.length > 0;
    syncRows($("finished-schedules-table").tBodies[0], section.finished, (s) => [
      { text: when(s.finished_at), className: "time", title: s.finished_at },
      { text: s.type, className: "type" },
      s.userID,
      scheduleWhen(s),
      statusCell(s.status),
      { text: when(s.last_run), className: "time", title: s.last_run },
      { text: s.run_count, className: "runs" },
    ]);
    $("finished-schedules-empty").hidden = section.finished.length > 0;
  }

  function progressCell(task) {
    return {
      build: () => el("div", { className: "progress" },
        el("progress", { max: 100, "aria-label": `Progress of the ${task.agent} task` }),
        el("span", { className: "progress-value" })),
      update: (node) => {
        const bar = node.querySelector("progress");
        if (bar.value !== task.progress) bar.value = task.progress;
        const text = `${task.progress}%`;
        const label = node.querySelector(".progress-value");
        if (label.textContent !== text) label.textContent = text;
      },
    };
  }

  function logLine(line) {
    return el("li", { className: `log-line level-${line.level}`, title: line.at, dataset: { seq: line.seq } },
      el("span", { className: "log-level" }, line.level), " ", line.text);
  }

  /* New lines are appended to what is shown; a log scrolled to its end (or too short to
   * scroll) follows them, one the user scrolled up stays where it is. */
  function updateLog(node, task) {
    const error = node.querySelector(".task-error");
    if (error.textContent !== task.error) error.textContent = task.error;
    error.hidden = !task.error;
    const list = node.querySelector(".log");
    const last = Number(list.dataset.lastSeq || 0);
    const fresh = task.lines.filter((line) => line.seq > last);
    if (fresh.length) {
      const following = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
      let expected = last + 1;
      for (const line of fresh) {
        if (line.seq > expected) {
          const skipped = line.seq - expected;
          list.append(el("li", { className: "log-gap" }, `… ${skipped} line${skipped === 1 ? "" : "s"} not shown`));
        }
        list.append(logLine(line));
        expected = line.seq + 1;
      }
      list.dataset.lastSeq = String(expected - 1);
      list.hidden = false;
      if (following) list.scrollTop = list.scrollHeight;
    }
    list.hidden = list.children.length === 0;
  }

  function logCell(task) {
    return {
      build: () => el("div", { className: "task-log" },
        el("p", { className: "task-error error-text", hidden: true }),
        el("ol", { className: "log", tabIndex: 0, hidden: true, "aria-label": `Log of the ${task.agent} task ${task.id}` })),
      update: (node) => updateLog(node, task),
    };
  }

  function renderTasks(section) {
    const span = `${section.window_hours} h`;
    renderCounts($("task-counts"), [
      ["queued", "Queued"],
      ["running", "Running"],
      ["succeeded", `Succeeded (${span})`],
      ["failed", `Failed (${span})`],
    ], section.counts);
    syncRows(
      $("tasks-table").tBodies[0],
      section.recent,
      (t) => [
        { text: when(t.created_at), className: "time", title: t.created_at },
        { text: t.agent, className: "agent" },
        t.userID,
        statusCell(t.status),
        progressCell(t),
        { text: when(t.finished_at), className: "time", title: t.duration_ms === null ? "" : `took ${duration(t.duration_ms)}` },
        logCell(t),
      ],
      (t) => (t.id === dashboard.lastSubmitted ? "fresh" : ""),
    );
    $("tasks-empty").hidden = section.recent.length > 0;
  }

  /* One renderer per section of the snapshot, by the section's name; the snapshot has
   * (and the page shows) only the sections the staff member may see. */
  const SECTIONS = {
    events: renderEvents,
    messages: renderMessages,
    tasks: renderTasks,
    schedules: renderSchedules,
    feedback: renderFeedback,
  };

  function render(snapshot) {
    for (const [name, draw] of Object.entries(SECTIONS)) {
      if (snapshot[name]) draw(snapshot[name]);
    }
  }

  // --- Polling --------------------------------------------------------------------

  const poll = { timer: null, running: false, again: false, failures: 0 };
  const PAUSED = "Paused while the tab is hidden";

  function setUpdated(text, failing = false) {
    const node = $("updated");
    node.textContent = text;
    node.classList.toggle("error", failing);
  }

  async function refresh() {
    clearTimeout(poll.timer);
    poll.timer = null;
    if (poll.running) {
      poll.again = true; // once this one is done
      return;
    }
    poll.running = true;
    const { ok, data } = await request("GET", urls.state + feedbackFilters());
    poll.running = false;
    if (ok && data) {
      poll.failures = 0;
      render(data);
      setUpdated(`Updated ${when(data.generated_at)}`);
      root.dataset.ready = "true";
    } else {
      poll.failures += 1;
      setUpdated(`Not updated: ${errorText(data)}`, true);
    }
    if (poll.again) {
      poll.again = false;
      refresh();
    } else if (document.hidden) {
      setUpdated(PAUSED);
    } else {
      const delay = ok ? POLL_MS : Math.min(POLL_MS * 2 ** poll.failures, MAX_BACKOFF_MS);
      poll.timer = setTimeout(refresh, delay);
    }
  }

  for (const id of ["feedback-rating", "feedback-model"]) {
    if ($(id)) $(id).addEventListener("change", () => refresh());
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(poll.timer);
      poll.timer = null;
      setUpdated(PAUSED);
    } else {
      refresh();
    }
  });

  // --- Actions --------------------------------------------------------------------

  const FIELDS = { type: "event-type", source: "event-source", userID: "event-user", metadata: "event-metadata" };

  function clearFormErrors() {
    for (const input of Object.values(FIELDS)) {
      $(input).removeAttribute("aria-invalid");
      $(`${input}-error`).hidden = true;
    }
    $("event-form-error").hidden = true;
    $("event-form-done").hidden = true;
  }

  /* Errors by field; a nested one (metadata.messages[0].content) goes under its
   * field, named in full. */
  function showFormErrors(detail) {
    const general = [];
    const byInput = new Map();
    for (const [key, messages] of Object.entries(detail)) {
      const text = [].concat(messages).join(" ");
      const field = key.split(/[.[]/)[0];
      const input = FIELDS[field];
      if (!input) {
        general.push(key === "non_field_errors" ? text : `${key}: ${text}`);
        continue;
      }
      byInput.set(input, [...(byInput.get(input) || []), key === field ? text : `${key}: ${text}`]);
    }
    let first = null;
    for (const [input, texts] of byInput) {
      $(input).setAttribute("aria-invalid", "true");
      const error = $(`${input}-error`);
      error.textContent = texts.join(" ");
      error.hidden = false;
      first = first || $(input);
    }
    if (general.length) {
      $("event-form-error").textContent = general.join(" ");
      $("event-form-error").hidden = false;
    }
    if (first) first.focus();
  }

  async function submitEvent(event) {
    event.preventDefault();
    clearFormErrors();
    const button = $("event-submit");
    button.disabled = true;
    const { ok, status: code, data } = await request("POST", urls.event, {
      type: $("event-type").value,
      source: $("event-source").value,
      userID: $("event-user").value,
      metadata: $("event-metadata").value,
    });
    button.disabled = false;
    if (ok) {
      dashboard.lastSubmitted = data.id;
      const done = $("event-form-done");
      done.textContent = `Event ${data.id} ${data.status}.`;
      done.hidden = false;
      refresh();
      return;
    }
    if (code === 400 && data && data.detail && typeof data.detail === "object") {
      showFormErrors(data.detail);
    } else {
      $("event-form-error").textContent = errorText(data);
      $("event-form-error").hidden = false;
    }
  }

  async function retry(messageId, button) {
    button.disabled = true;
    const { ok, data } = await request("POST", urls.retry(messageId));
    button.disabled = false;
    if (ok) notify(`Message ${messageId} is ${data.status} again.`, "success");
    else notify(errorText(data), "error");
    refresh();
  }

  async function cancelSchedule(schedule, button) {
    const what = schedule.kind === "once" ? `at ${when(schedule.run_at)}` : `on ${schedule.cron} (${schedule.timezone})`;
    if (!window.confirm(`Cancel the ${schedule.type} schedule of ${schedule.userID} ${what}? It will not run again.`)) return;
    button.disabled = true;
    const { ok, data } = await request("POST", urls.cancel(schedule.id));
    button.disabled = false;
    if (ok) notify(`Schedule ${data.id} is ${data.status}.`, "success");
    else notify(errorText(data), "error");
    refresh();
  }

  if ($("event-form")) $("event-form").addEventListener("submit", submitEvent);
  refresh();
})();
