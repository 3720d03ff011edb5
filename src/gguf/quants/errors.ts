// Named errors for the quantisation code.
import { typeName } from "../types.js";

/** The operation is not implemented for this ggml type. */
export class UnsupportedQuantTypeError extends Error {
  override readonly name = "UnsupportedQuantTypeError";
  constructor(readonly type: number, operation: string) {
    super(`${operation} is not supported for ggml type ${typeName(type)}`);
  }
}

/** A row length or buffer size does not fit the type's block layout. */
export class QuantShapeError extends RangeError {
  override readonly name = "QuantShapeError";
}
