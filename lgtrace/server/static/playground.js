// lgtrace playground: plain JS, no build step, no dependencies.
// Talks to the Agent Server protocol served by `lgtrace serve` (same origin by default;
// `?api=http://host:port` points the page at another server, which must allow it by CORS).
"use strict";

(function () {
  const API = (new URLSearchParams(location.search).get("api") || "").replace(/\/+$/, "");
  const STREAM_MODE = ["messages-tuple", "values", "tasks", "updates"];
  const $ = (id) => document.getElementById(id);

  const el = {
    graph: $("graph-select"), newThread: $("new-thread"), threadId: $("thread-id"), runId: $("run-id"),
    status: $("status"), apiKey: $("api-key"), messages: $("messages"), interrupt: $("interrupt"),
    interruptId: $("interrupt-id"), interruptValue: $("interrupt-value"), resumeForm: $("resume-form"),
    resumeInput: $("resume-input"), error: $("error"), composer: $("composer"), input: $("chat-input"),
    send: $("send"), stop: $("stop"), timeline: $("timeline"),
  };

  const state = {
    threadId: null,
    runId: null,
    running: false,
    controller: null,
    interrupts: [], // pending [{id, value}]
    localSeq: 0,
  };

  // ---- HTTP -------------------------------------------------------------------------------

  function headers(extra) {
    const h = Object.assign({ "Content-Type": "application/json" }, extra || {});
    const key = el.apiKey.value || sessionStorage.getItem("lgtrace-api-key") || "";
    if (key) h["x-api-key"] = key;
    return h;
  }

  async function describeFailure(res) {
    let detail = "";
    try {
      const text = await res.text();
      try {
        const body = JSON.parse(text);
        detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
      } catch (_) {
        detail = text;
      }
    } catch (_) { /* body unreadable */ }
    return `HTTP ${res.status}${detail ? ": " + detail : ""}`;
  }

  async function api(method, path, body) {
    const res = await fetch(API + path, {
      method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(await describeFailure(res));
    return res.json();
  }

  // Server-sent events from a fetch() body (EventSource cannot POST). Lines end in CRLF, LF or CR;
  // an empty line dispatches the event; ":" lines are comments (heartbeats).
  async function* sseEvents(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let event = "", data = [], id = null;
    function* take(line) {
      if (line === "") {
        if (data.length) yield { event: event || "message", data: data.join("\n"), id };
        event = ""; data = [];
        return;
      }
      if (line[0] === ":") return;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let m;
      while ((m = /\r\n|\n|\r/.exec(buf))) {
        if (!done && m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of a CRLF
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        yield* take(line);
      }
      if (done) {
        if (buf) yield* take(buf);
        yield* take("");
        return;
      }
    }
  }

  // ---- UI helpers -------------------------------------------------------------------------

  function setStatus(s, text) {
    el.status.dataset.state = s;
    el.status.textContent = text || s;
    document.body.dataset.runState = s;
  }

  function showError(msg) {
    el.error.textContent = msg;
    el.error.hidden = !msg;
  }

  function setRunning(on) {
    state.running = on;
    el.send.disabled = on;
    el.resumeInput.disabled = on;
    document.getElementById("resume-button").disabled = on;
    el.stop.disabled = !on;
    el.graph.disabled = on || el.graph.options.length === 0;
  }

  function textOf(content) {
    if (content == null) return "";
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content.map((b) => (typeof b === "string" ? b : b && typeof b.text === "string" ? b.text : "")).join("");
    }
    return JSON.stringify(content);
  }

  function roleOf(msg) {
    const t = msg.type || msg.role || "";
    if (t === "human" || t === "user" || t === "HumanMessageChunk") return "user";
    if (t === "ai" || t === "assistant" || t === "AIMessageChunk") return "assistant";
    if (t === "tool" || t === "ToolMessageChunk") return "tool";
    if (t === "system") return "system";
    return t || "assistant";
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
  }

  function findMessage(id) {
    return el.messages.querySelector(`.msg[data-message-id="${cssEscape(id)}"]`);
  }

  function addMessage(id, role, text, who) {
    const div = document.createElement("div");
    div.className = "msg";
    div.setAttribute("data-testid", "message");
    div.dataset.role = role;
    div.dataset.messageId = id;
    div.dataset.streaming = "false";
    const head = document.createElement("div");
    head.className = "who";
    head.textContent = who || role;
    const body = document.createElement("div");
    body.className = "text";
    body.setAttribute("data-testid", "message-text");
    body.textContent = text;
    div.append(head, body);
    el.messages.append(div);
    el.messages.scrollTop = el.messages.scrollHeight;
    return div;
  }

  function setText(div, text) {
    const body = div.querySelector(".text");
    if (body.textContent !== text) body.textContent = text;
  }

  // ---- stream handlers --------------------------------------------------------------------

  function onMessageChunk(chunk, meta) {
    if (!chunk || typeof chunk !== "object") return;
    const role = roleOf(chunk);
    const id = chunk.id || `anon-${meta && meta.langgraph_node}`;
    let div = findMessage(id);
    const node = meta && meta.langgraph_node;
    if (!div) div = addMessage(id, role, "", node ? `${role} · ${node}` : role);
    const token = textOf(chunk.content);
    if (token) {
      div.dataset.streaming = "true";
      const body = div.querySelector(".text");
      body.textContent += token;
      el.messages.scrollTop = el.messages.scrollHeight;
    }
    if (chunk.chunk_position === "last") div.dataset.streaming = "false";
    if (meta && meta.langgraph_step != null && node) labelStep(node, meta.langgraph_step);
  }

  function syncMessages(messages) {
    for (const msg of messages) {
      if (!msg || typeof msg !== "object") continue;
      const role = roleOf(msg);
      const text = textOf(msg.content);
      let div = msg.id ? findMessage(msg.id) : null;
      if (!div && role === "user") {
        // adopt the bubble we drew when the user pressed send
        div = Array.from(el.messages.querySelectorAll('.msg[data-local="true"]')).find(
          (d) => d.querySelector(".text").textContent === text,
        ) || null;
        if (div) {
          delete div.dataset.local;
          if (msg.id) div.dataset.messageId = msg.id;
        }
      }
      if (!div) div = addMessage(msg.id || `m-${++state.localSeq}`, role, text);
      setText(div, text);
      div.dataset.streaming = "false";
    }
  }

  function showInterrupts(list) {
    state.interrupts = Array.isArray(list) ? list : [list];
    if (!state.interrupts.length) return hideInterrupts();
    const fmt = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
    el.interruptValue.textContent = state.interrupts.map((i) => fmt(i.value)).join("\n\n");
    el.interruptId.textContent = state.interrupts.map((i) => i.id).join(", ");
    el.interrupt.hidden = false;
  }

  function hideInterrupts() {
    state.interrupts = [];
    el.interrupt.hidden = true;
    el.interruptValue.textContent = "";
    el.interruptId.textContent = "";
  }

  // Timeline: one block per run; inside it a block per step. Tasks of one step all start
  // before any of them finishes, so a start that follows a result opens the next step.
  const timeline = { run: null, step: null, stepCount: 0, lastWasResult: true, tasks: new Map() };

  function timelineRun(runId) {
    const run = document.createElement("div");
    run.className = "run";
    run.setAttribute("data-testid", "timeline-run");
    run.dataset.runId = runId || "";
    const head = document.createElement("div");
    head.className = "run-head";
    head.textContent = `run ${runId ? runId.slice(-12) : "?"}`;
    run.append(head);
    el.timeline.prepend(run);
    Object.assign(timeline, { run, step: null, stepCount: 0, lastWasResult: true, tasks: new Map() });
  }

  function newStep() {
    timeline.stepCount += 1;
    const step = document.createElement("div");
    step.className = "step";
    step.setAttribute("data-testid", "timeline-step");
    step.dataset.step = String(timeline.stepCount);
    const head = document.createElement("div");
    head.className = "step-head";
    head.textContent = `step ${timeline.stepCount}`;
    step.append(head);
    timeline.run.append(step);
    timeline.step = step;
  }

  function labelStep(node, langgraphStep) {
    for (const t of timeline.tasks.values()) {
      if (t.name === node && t.div.dataset.state === "running") {
        const step = t.div.closest(".step");
        step.dataset.langgraphStep = String(langgraphStep);
        step.querySelector(".step-head").textContent = `step ${langgraphStep}`;
      }
    }
  }

  function onTask(ev) {
    if (!timeline.run) timelineRun(state.runId);
    const isStart = "input" in ev || "triggers" in ev;
    if (isStart) {
      if (timeline.lastWasResult || !timeline.step) newStep();
      timeline.lastWasResult = false;
      const div = document.createElement("div");
      div.className = "task";
      div.setAttribute("data-testid", "timeline-task");
      div.dataset.taskId = ev.id;
      div.dataset.name = ev.name;
      div.dataset.state = "running";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = ev.name;
      const info = document.createElement("span");
      info.className = "info";
      info.textContent = "running…";
      div.append(name, info);
      if (ev.triggers && ev.triggers.length) div.title = "triggers: " + ev.triggers.join(", ");
      timeline.step.append(div);
      timeline.tasks.set(ev.id, { name: ev.name, div, t0: performance.now() });
    } else {
      timeline.lastWasResult = true;
      let t = timeline.tasks.get(ev.id);
      if (!t) { // result of a task whose start we did not see
        onTask({ id: ev.id, name: ev.name, input: null });
        timeline.lastWasResult = true;
        t = timeline.tasks.get(ev.id);
      }
      const ms = Math.round(performance.now() - t.t0);
      const info = t.div.querySelector(".info");
      if (ev.error) {
        t.div.dataset.state = "error";
        info.textContent = `error: ${typeof ev.error === "string" ? ev.error : JSON.stringify(ev.error)}`;
      } else if (ev.interrupts && ev.interrupts.length) {
        t.div.dataset.state = "interrupted";
        info.textContent = `interrupted (${ms} ms)`;
      } else {
        t.div.dataset.state = "done";
        info.textContent = `${ms} ms`;
      }
    }
  }

  function handle(ev) {
    const kind = ev.event.split("|")[0];
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch (_) {
      data = ev.data;
    }
    switch (kind) {
      case "metadata":
        if (data && data.run_id) {
          state.runId = data.run_id;
          el.runId.textContent = data.run_id;
          timelineRun(data.run_id);
        }
        break;
      case "messages":
        if (Array.isArray(data)) onMessageChunk(data[0], data[1]);
        break;
      case "values":
        if (data && Array.isArray(data.messages)) syncMessages(data.messages);
        if (data && data.__interrupt__) showInterrupts(data.__interrupt__);
        break;
      case "updates":
        if (data && data.__interrupt__) showInterrupts(data.__interrupt__);
        break;
      case "tasks":
        if (data && data.id) onTask(data);
        break;
      case "error":
        showError(`${(data && data.error) || "Error"}: ${(data && data.message) || ev.data}`);
        state.failed = true;
        break;
      default:
        break;
    }
  }

  // ---- actions ----------------------------------------------------------------------------

  async function ensureThread() {
    if (state.threadId) return state.threadId;
    const thread = await api("POST", "/threads", { metadata: { source: "lgtrace-playground" } });
    state.threadId = thread.thread_id;
    el.threadId.textContent = thread.thread_id;
    return state.threadId;
  }

  async function runStream(payload) {
    if (state.running) return;
    showError("");
    hideInterrupts();
    setRunning(true);
    setStatus("running");
    state.failed = false;
    state.runId = null;
    const controller = new AbortController();
    state.controller = controller;
    try {
      const threadId = await ensureThread();
      const res = await fetch(`${API}/threads/${encodeURIComponent(threadId)}/runs/stream`, {
        method: "POST",
        headers: headers({ Accept: "text/event-stream" }),
        body: JSON.stringify(Object.assign({
          assistant_id: el.graph.value,
          stream_mode: STREAM_MODE,
          stream_resumable: true,
        }, payload)),
        signal: controller.signal,
      });
      if (!res.ok) throw new Error(await describeFailure(res));
      const loc = res.headers.get("Content-Location");
      const m = loc && /\/runs\/([^/]+)$/.exec(loc);
      if (m) {
        state.runId = m[1];
        el.runId.textContent = m[1];
      }
      for await (const ev of sseEvents(res.body)) handle(ev);
      for (const d of el.messages.querySelectorAll('.msg[data-streaming="true"]')) d.dataset.streaming = "false";
      if (state.failed) setStatus("error");
      else if (state.interrupts.length) setStatus("interrupted");
      else setStatus("done");
    } catch (err) {
      if (controller.signal.aborted) {
        setStatus("cancelled");
      } else {
        showError(String(err && err.message ? err.message : err));
        setStatus("error");
      }
    } finally {
      state.controller = null;
      setRunning(false);
      if (!el.interrupt.hidden) el.resumeInput.focus();
      else el.input.focus();
    }
  }

  function send(text) {
    const local = addMessage(`local-${++state.localSeq}`, "user", text);
    local.dataset.local = "true";
    return runStream({ input: { messages: [{ role: "user", content: text }] } });
  }

  function resume(text) {
    let resumeValue = text;
    if (state.interrupts.length > 1) {
      resumeValue = {};
      for (const i of state.interrupts) resumeValue[i.id] = text;
    }
    return runStream({ command: { resume: resumeValue } });
  }

  async function stop() {
    const { threadId, runId, controller } = state;
    if (threadId && runId) {
      try {
        await fetch(`${API}/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}/cancel`, {
          method: "POST", headers: headers(),
        });
      } catch (_) { /* the abort below still ends our side */ }
    }
    if (controller) controller.abort();
  }

  function newThread() {
    if (state.running) return;
    state.threadId = null;
    state.runId = null;
    el.threadId.textContent = "–";
    el.runId.textContent = "–";
    el.messages.textContent = "";
    el.timeline.textContent = "";
    timeline.run = null;
    hideInterrupts();
    showError("");
    setStatus("idle");
    el.input.focus();
  }

  async function loadGraphs() {
    try {
      const assistants = await api("POST", "/assistants/search", { limit: 100, offset: 0 });
      el.graph.textContent = "";
      const seen = new Set();
      for (const a of assistants) {
        if (seen.has(a.graph_id)) continue;
        seen.add(a.graph_id);
        const opt = document.createElement("option");
        opt.value = a.graph_id;
        opt.textContent = a.name && a.name !== a.graph_id ? `${a.name} (${a.graph_id})` : a.graph_id;
        opt.dataset.assistantId = a.assistant_id;
        el.graph.append(opt);
      }
      const wanted = new URLSearchParams(location.search).get("graph");
      if (wanted && seen.has(wanted)) el.graph.value = wanted;
      el.graph.disabled = el.graph.options.length === 0;
      document.body.dataset.ready = "true";
    } catch (err) {
      showError(`could not list graphs: ${err.message || err}`);
      document.body.dataset.ready = "error";
    }
  }

  // ---- wiring -----------------------------------------------------------------------------

  el.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = el.input.value.trim();
    if (!text || state.running || !el.graph.value) return;
    el.input.value = "";
    send(text);
  });
  el.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.resumeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.running || !state.interrupts.length) return;
    const text = el.resumeInput.value;
    el.resumeInput.value = "";
    resume(text);
  });
  el.stop.addEventListener("click", stop);
  el.newThread.addEventListener("click", newThread);
  el.graph.addEventListener("change", newThread);
  el.apiKey.value = sessionStorage.getItem("lgtrace-api-key") || "";
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    el.apiKey.dispatchEvent(new Event("change"));
  });
  el.apiKey.addEventListener("change", () => {
    sessionStorage.setItem("lgtrace-api-key", el.apiKey.value);
    loadGraphs();
  });

  setStatus("idle");
  loadGraphs();
})();
