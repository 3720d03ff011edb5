// Public surface of the CPU matmul kernels.
export { MATMUL_WEIGHT_TYPES, matmul, matmulPrepared } from "./matmul.js";
export { type ActivationFormat, type PreparedActivations, activationFormat, prepareActivations, preparedRowValues } from "./prepared-activations.js";
