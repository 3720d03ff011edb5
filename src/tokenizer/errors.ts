// Named error for every tokenizer failure: bad metadata, unknown pre-tokenizer, ids out of range.
export class TokenizerError extends Error {
  override readonly name = "TokenizerError";
  constructor(message: string) {
    super(message);
  }
}
