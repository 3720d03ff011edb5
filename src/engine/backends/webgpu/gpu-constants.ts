// Numeric flags of the WebGPU API (GPUBufferUsage, GPUMapMode, GPUShaderStage). They are fixed by the
// specification; spelling them here keeps the backend from installing Dawn's globals on globalThis.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;

export const MapMode = { READ: 0x0001 } as const;

export const ShaderStage = { COMPUTE: 0x4 } as const;
