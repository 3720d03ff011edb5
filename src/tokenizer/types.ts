// The tokenizer contract shared by the engine, the CLI and the chat layer.

export interface EncodeOptions {
  /** Add BOS/EOS as the model's metadata says (llama.cpp's add_special). Default true. */
  readonly addSpecial?: boolean;
  /** Match control/unknown tokens such as `<|im_start|>` written in the text (llama.cpp's parse_special). Default false. */
  readonly parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control/unknown tokens as their text instead of dropping them (llama.cpp's unparse_special). Default false. */
  readonly special?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly eot?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** SentencePiece models prepend a space to the text and strip it again when detokenizing. */
  readonly addSpacePrefix: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** llama_detokenize(remove_special = false): the leading-space and clean-up rules of llama.cpp included. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** One token's bytes as llama_token_to_piece renders them (no lstrip). */
  tokenPiece(id: number, special?: boolean): Uint8Array;
  /** End of generation: eos, eot, eom and the tokens llama.cpp recognises as EOG by their text. */
  isEog(id: number): boolean;
  /** The token's text as stored in the vocabulary. */
  tokenText(id: number): string;
}

/** llama.cpp's llama_token_attr bits (the subset tokens can carry when loaded from GGUF). */
export enum TokenAttr {
  UNDEFINED = 0,
  UNKNOWN = 1 << 0,
  UNUSED = 1 << 1,
  NORMAL = 1 << 2,
  CONTROL = 1 << 3,
  USER_DEFINED = 1 << 4,
  BYTE = 1 << 5,
}

/** GGUF `tokenizer.ggml.token_type` values (llama_token_type). */
export enum TokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}
