// The ggml tensor types Tessera reads and writes, with their block layouts.
// Values and block sizes are those of the GGUF format (ggml.h); they are facts of the file format.

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
}

export interface TypeLayout {
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

/** QK_K: elements in one K-quant super-block. */
export const QK_K = 256;

export const TYPE_LAYOUTS: ReadonlyMap<GgmlType, TypeLayout> = new Map<GgmlType, TypeLayout>([
  [GgmlType.F32, { name: "F32", blockSize: 1, typeSize: 4 }],
  [GgmlType.F16, { name: "F16", blockSize: 1, typeSize: 2 }],
  [GgmlType.BF16, { name: "BF16", blockSize: 1, typeSize: 2 }],
  [GgmlType.Q4_0, { name: "Q4_0", blockSize: 32, typeSize: 2 + 16 }],
  [GgmlType.Q4_1, { name: "Q4_1", blockSize: 32, typeSize: 2 + 2 + 16 }],
  [GgmlType.Q5_0, { name: "Q5_0", blockSize: 32, typeSize: 2 + 4 + 16 }],
  [GgmlType.Q5_1, { name: "Q5_1", blockSize: 32, typeSize: 2 + 2 + 4 + 16 }],
  [GgmlType.Q8_0, { name: "Q8_0", blockSize: 32, typeSize: 2 + 32 }],
  [GgmlType.Q8_1, { name: "Q8_1", blockSize: 32, typeSize: 4 + 32 }],
  [GgmlType.Q4_K, { name: "Q4_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 2 }],
  [GgmlType.Q5_K, { name: "Q5_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 8 + QK_K / 2 }],
  [GgmlType.Q6_K, { name: "Q6_K", blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 }],
  [GgmlType.Q8_K, { name: "Q8_K", blockSize: QK_K, typeSize: 4 + QK_K + (QK_K / 16) * 2 }],
]);

export function isKnownType(t: number): t is GgmlType {
  return TYPE_LAYOUTS.has(t as GgmlType);
}

export function typeLayout(t: GgmlType): TypeLayout {
  const layout = TYPE_LAYOUTS.get(t);
  if (!layout) throw new RangeError(`unknown ggml type ${t}`);
  return layout;
}

export function typeName(t: number): string {
  return TYPE_LAYOUTS.get(t as GgmlType)?.name ?? `type#${t}`;
}

/** Bytes taken by `elements` values of type `t`; elements must be a multiple of the block size. */
export function bytesFor(t: GgmlType, elements: number): number {
  const { blockSize, typeSize } = typeLayout(t);
  if (elements % blockSize !== 0) {
    throw new RangeError(`${elements} elements is not a multiple of ${typeName(t)}'s block size ${blockSize}`);
  }
  return (elements / blockSize) * typeSize;
}
