// Bundled by esbuild (tests/server/browser/conftest.py) into a page that runs the official
// @langchain/langgraph-sdk JS client in the browser against `lgtrace serve`.
// Query string: api=<server url> (required), assistant=<graph, default "agent">, text=<message>,
//   resume=<answer>: after the run stops at an interrupt, stream Command(resume=<answer>);
//   drop_after=<n>: a resumable run; leave it after n token parts, then join it again with
//   Last-Event-ID = the last id seen (runs.joinStream), join_after_ms=<ms> later.
// Records every streamed part with a timestamp and a phase ("run", "resume", "join") into
// window.__parts, and sets window.__done = true at the end (window.__error on failure).
import { Client } from "@langchain/langgraph-sdk";

const params = new URLSearchParams(location.search);
window.__parts = [];
window.__done = false;
window.__error = null;
window.__runCreated = [];

function record(phase, part) {
  window.__parts.push({ phase, t: performance.now(), event: part.event, data: part.data, id: part.id ?? null });
  document.getElementById("count").textContent = String(window.__parts.length);
}

async function main() {
  const client = new Client({ apiUrl: params.get("api") });
  const assistant = params.get("assistant") || "agent";
  const thread = await client.threads.create();
  window.__threadId = thread.thread_id;
  const input = { messages: [{ role: "user", content: params.get("text") || "hello" }] };
  const streamMode = ["messages-tuple", "values"];
  const dropAfter = params.has("drop_after") ? Number(params.get("drop_after")) : null;

  const stream = client.runs.stream(thread.thread_id, assistant, {
    input,
    streamMode,
    streamResumable: dropAfter !== null,
    onRunCreated: (run) => window.__runCreated.push(run),
  });
  let tokens = 0;
  let runId = null;
  let lastId = null;
  for await (const part of stream) {
    record("run", part);
    if (part.event === "metadata") runId = part.data.run_id;
    if (part.id != null) lastId = part.id;
    if (part.event === "messages" && part.data[0].content) tokens += 1;
    if (dropAfter !== null && tokens >= dropAfter) break; // closes the connection mid-run
  }
  if (dropAfter !== null) {
    window.__dropped = { runId, lastId };
    // stay away for a while: the run goes on (on_disconnect "continue"), the join replays the gap
    await new Promise((resolve) => setTimeout(resolve, Number(params.get("join_after_ms") || 0)));
    window.__joinStart = performance.now();
    for await (const part of client.runs.joinStream(thread.thread_id, runId, { lastEventId: lastId, streamMode })) {
      record("join", part);
    }
  }
  if (params.has("resume")) {
    const resumed = client.runs.stream(thread.thread_id, assistant, {
      command: { resume: params.get("resume") },
      streamMode,
      onRunCreated: (run) => window.__runCreated.push(run),
    });
    for await (const part of resumed) record("resume", part);
  }
  window.__state = await client.threads.getState(thread.thread_id);
}

main()
  .catch((err) => {
    window.__error = String((err && err.stack) || err);
  })
  .finally(() => {
    window.__done = true;
    document.getElementById("state").textContent = window.__error ? "error" : "done";
  });
