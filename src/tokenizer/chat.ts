// Chat prompts from the model's Jinja chat template (tokenizer.chat_template), rendered with @huggingface/jinja.
import { Template } from "@huggingface/jinja";
import { metaOptString, type GgufMetadata } from "../gguf/format.js";
import { TokenizerError } from "./errors.js";

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface RenderChatOptions {
  readonly bosToken?: string;
  readonly eosToken?: string;
  /** Append the opening of the assistant's turn. Default false. */
  readonly addGenerationPrompt?: boolean;
}

/**
 * Used when a model carries no template: plain ChatML, the format Qwen and many small chat models use —
 * every message as `<|im_start|>{role}\n{content}<|im_end|>\n`, then `<|im_start|>assistant\n` when a
 * generation prompt is asked for. No system message is added.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function chatTemplateFromGguf(md: GgufMetadata): string {
  return metaOptString(md, "tokenizer.chat_template") ?? CHATML_TEMPLATE;
}

export function renderChat(template: string, messages: readonly ChatMessage[], opts: RenderChatOptions = {}): string {
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (e) {
    throw new TokenizerError(`invalid chat template: ${(e as Error).message}`);
  }
  try {
    return compiled.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      bos_token: opts.bosToken ?? "",
      eos_token: opts.eosToken ?? "",
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    });
  } catch (e) {
    throw new TokenizerError(`chat template failed: ${(e as Error).message}`);
  }
}
