// Public surface of the quantisation formats.
export { F16_TO_F32, f16BitsToF32, f32ToF16Bits, readF16, roundToF16, writeF16 } from "./f16.js";
export { BF16_TO_F32, bf16BitsToF32, f32ToBf16Bits, roundToBf16 } from "./bf16.js";
export { dequantize, dequantizeRow } from "./dequantize.js";
export { quantizeRow, quantizeRowInto, quantizeTensor } from "./quantize.js";
export { quantizeQ8_0Blocks, quantizeQ8_1Blocks, quantizeQ8_KBlocks, roundHalfEven } from "./q8-activations.js";
export { kMin, kScale, packKScales } from "./k-scales.js";
export { QuantShapeError, UnsupportedQuantTypeError } from "./errors.js";
