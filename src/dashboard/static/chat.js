// The chat panel: a conversation with one instance, streamed from POST /v1/chat/completions (SSE read
// through fetch, so the API key can ride along). Each answer's decode rate is measured as the bench
// does it: tokens after the first over the time from the first to the last.
/* global performance, AbortController */
import { api, readSse, responseError } from "./api.js";
import { el } from "./format.js";

export class ChatPanel {
  /** onMeasured(instanceId, { tokPerSec, tokens }) hears each answer's measured rate. */
  constructor(elements, onMeasured) {
    this.e = elements;
    this.onMeasured = onMeasured;
    this.messages = [];
    this.abort = null;
    elements.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.send();
    });
    elements.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) {
        ev.preventDefault();
        void this.send();
      }
    });
    elements.stop.addEventListener("click", () => this.abort?.abort());
    elements.clear.addEventListener("click", () => {
      this.abort?.abort();
      this.messages = [];
      elements.log.replaceChildren();
    });
  }

  /** Offers the instances (by id, which the API accepts as a model name) and the API's model ids. */
  setModels(options) {
    const select = this.e.model;
    const current = select.value;
    const seen = new Set();
    const unique = options.filter((o) => !seen.has(o.value) && seen.add(o.value));
    // Rebuilt only when the choices change, so an open drop-down is not pulled from under the user.
    const key = JSON.stringify(unique);
    if (key === this.modelsKey) return;
    this.modelsKey = key;
    select.replaceChildren(...unique.map((o) => el("option", { value: o.value, text: o.label })));
    if (seen.has(current)) select.value = current;
  }

  append(role, text) {
    const log = this.e.log;
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    const node = el("div", { class: `msg ${role}`, "data-role": role, text });
    log.append(node);
    if (stick) log.scrollTop = log.scrollHeight;
    return node;
  }

  async send() {
    const text = this.e.input.value.trim();
    const model = this.e.model.value;
    if (!text || this.abort) return;
    if (!model) {
      this.append("failed", "No model to talk to: place an instance first.");
      return;
    }
    this.e.input.value = "";
    this.messages.push({ role: "user", content: text });
    this.append("user", text);
    const out = this.append("assistant", "");
    out.dataset.done = "false";
    const body = {
      model,
      messages: this.messages,
      stream: true,
      max_tokens: Number(this.e.maxTokens.value) || 64,
      temperature: Number(this.e.temperature.value),
    };
    this.abort = new AbortController();
    this.e.send.disabled = true;
    this.e.stop.disabled = false;
    let answer = "";
    let tokens = 0;
    let first = 0;
    let last = 0;
    let instanceId = null;
    try {
      const res = await api("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: this.abort.signal,
      });
      if (!res.ok) throw await responseError(res);
      await readSse(res, (m) => {
        if (m.data === "[DONE]") return;
        const chunk = JSON.parse(m.data);
        if (chunk.error) throw new Error(chunk.error.message);
        instanceId = chunk.tessera?.instance_id ?? instanceId;
        const delta = chunk.choices?.[0]?.delta?.content ?? "";
        const ids = chunk.tessera?.token_ids?.length ?? (delta ? 1 : 0);
        if (ids > 0) {
          const now = performance.now();
          if (tokens === 0) first = now;
          last = now;
          tokens += ids;
        }
        if (delta) {
          answer += delta;
          out.textContent = answer;
          this.e.log.scrollTop = this.e.log.scrollHeight;
        }
      });
      this.messages.push({ role: "assistant", content: answer });
      if (instanceId && tokens >= 2 && last > first) this.onMeasured(instanceId, { tokPerSec: ((tokens - 1) * 1000) / (last - first), tokens });
    } catch (err) {
      out.classList.add("failed");
      const why = err.name === "AbortError" ? "stopped" : err.message;
      out.textContent = answer ? `${answer}\n[${why}]` : `[${why}]`;
      // A failed turn is not part of the conversation: the user's message goes with it.
      this.messages.pop();
    } finally {
      out.dataset.done = "true";
      this.abort = null;
      this.e.send.disabled = false;
      this.e.stop.disabled = true;
    }
  }
}
