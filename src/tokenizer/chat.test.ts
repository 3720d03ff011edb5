import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { GgufValueType, type GgufMetaValue } from "../gguf/format.js";
import { CHATML_TEMPLATE, chatTemplateFromGguf, renderChat } from "./chat.js";
import { TokenizerError } from "./errors.js";

const QWEN_STYLE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const LLAMA3_STYLE =
  "{{ bos_token }}{% for message in messages %}" +
  "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const messages = [
  { role: "user", content: "Hi there" },
  { role: "assistant", content: "Hello!" },
  { role: "user", content: "Tell me a story." },
];

describe("chat templates", () => {
  it("renders a Qwen-style ChatML template with a default system prompt", () => {
    assert.equal(
      renderChat(QWEN_STYLE, messages, { addGenerationPrompt: true }),
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n" +
        "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("renders a Llama-3-style template with the BOS text", () => {
    assert.equal(
      renderChat(LLAMA3_STYLE, messages.slice(0, 1), { bosToken: "<|begin_of_text|>", addGenerationPrompt: true }),
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    assert.equal(
      renderChat(LLAMA3_STYLE, messages.slice(0, 1)),
      "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
    );
  });

  it("falls back to plain ChatML when the model has no template", () => {
    const md = new Map<string, GgufMetaValue>();
    assert.equal(chatTemplateFromGguf(md), CHATML_TEMPLATE);
    assert.equal(
      renderChat(chatTemplateFromGguf(md), messages.slice(0, 1), { addGenerationPrompt: true }),
      "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    );
    md.set("tokenizer.chat_template", { type: GgufValueType.STRING, value: LLAMA3_STYLE });
    assert.equal(chatTemplateFromGguf(md), LLAMA3_STYLE);
  });

  it("reports template errors as TokenizerError", () => {
    assert.throws(() => renderChat("{% for %}", messages), TokenizerError);
  });
});
