// CRC-32 (IEEE 802.3, the zip/PNG/zlib one: reflected polynomial 0xEDB88320, init and final xor
// 0xFFFFFFFF), table-driven with one 256-entry u32 table (1 KB). node:zlib only gained crc32 in
// Node 20.15, and the project supports 20.10, so it is implemented here.

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes`, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
