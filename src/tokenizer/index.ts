// Public surface of the tokenizer package.
export type { Tokenizer, EncodeOptions, DecodeOptions } from "./types.js";
export { TokenAttr, TokenType } from "./types.js";
export { TokenizerError } from "./errors.js";
export { tokenizerFromGguf } from "./tokenizer.js";
export { StreamDecoder, type StreamDecoderOptions } from "./stream.js";
export { renderChat, chatTemplateFromGguf, CHATML_TEMPLATE, type ChatMessage, type RenderChatOptions } from "./chat.js";
export { buildSyntheticVocab, GPT2_SPECIAL_TOKENS, type SyntheticVocabOptions } from "./synth.js";
export { SUPPORTED_PRE } from "./pretokenize.js";
