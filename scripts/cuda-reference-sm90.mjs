#!/usr/bin/env node
// Makes node-llama-cpp's prebuilt CUDA build (3.22.x) load on Hopper GPUs (H100, H200) under driver 580,
// for the GPU benchmark's llama.cpp reference, and makes it small enough to carry to a lent GPU machine:
//
//   node scripts/cuda-reference-sm90.mjs node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda/libggml-cuda.so OUT.so
//
// Why: the build holds machine code for sm_86/89/120/121 only, and PTX for compute_75/80/90 written by
// a newer CUDA (PTX ISA 9.1) than driver 580's JIT reads (9.0), so on sm_90 every kernel launch fails
// with "the provided PTX was compiled with an unsupported toolchain". The ggml kernels use nothing of
// ISA 9.1, so this keeps one entry per fatbin container, the compute_90 PTX, with its `.version` line
// set to 9.0 and its header's minor version to 0, recompressed with zstd and given the whole container
// (containers keep their offsets, so nothing else in the library moves). Everything else is zeroed,
// which xz then shrinks: 159 MB becomes about 26 MB packed. Needs the `zstd` command.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const FATBIN_MAGIC = 0xba55ed50;
const PTX = 1;

function section(elf, wanted) {
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const names = shoff + elf.readUInt16LE(0x3e) * shentsize;
  const namesOffset = Number(elf.readBigUInt64LE(names + 0x18));
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const nameAt = namesOffset + elf.readUInt32LE(h);
    const name = elf.subarray(nameAt, elf.indexOf(0, nameAt)).toString();
    if (name === wanted) return { offset: Number(elf.readBigUInt64LE(h + 0x18)), size: Number(elf.readBigUInt64LE(h + 0x20)) };
  }
  throw new Error(`no ${wanted} section`);
}

const zstd = (args, input) => execFileSync("zstd", args, { input, maxBuffer: 1 << 30 });

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/cuda-reference-sm90.mjs IN.so OUT.so");
  process.exit(2);
}
const elf = readFileSync(input);
const { offset, size } = section(elf, ".nv_fatbin");
let patched = 0;
let skipped = 0;
for (let pos = offset; pos < offset + size; ) {
  if (elf.readUInt32LE(pos) !== FATBIN_MAGIC) {
    pos += 8;
    continue;
  }
  const headerSize = elf.readUInt16LE(pos + 6);
  const fatSize = Number(elf.readBigUInt64LE(pos + 8));
  const start = pos + headerSize;
  let ptx90;
  for (let e = start; e < start + fatSize; ) {
    const entryHeader = elf.readUInt32LE(e + 4);
    const payload = Number(elf.readBigUInt64LE(e + 8));
    if (elf.readUInt16LE(e) === PTX && elf.readUInt32LE(e + 28) === 90) ptx90 = { e, entryHeader };
    e += entryHeader + payload;
  }
  if (!ptx90) {
    skipped++;
    pos = start + fatSize;
    continue;
  }
  const { e, entryHeader } = ptx90;
  const header = Buffer.from(elf.subarray(e, e + entryHeader));
  const compressed = header.readUInt32LE(16);
  let text = zstd(["-d", "-c"], elf.subarray(e + entryHeader, e + entryHeader + compressed)).toString("latin1");
  if (!text.includes(".version 9.1\n")) throw new Error(`container at ${pos}: expected PTX ISA 9.1`);
  text = text.replace(".version 9.1\n", ".version 9.0\n");
  const plain = Buffer.from(text, "latin1");
  const packed = zstd(["-19", "-c", "--no-check"], plain);
  const room = fatSize - entryHeader;
  if (packed.length > room) throw new Error(`container at ${pos}: ${packed.length} bytes do not fit in ${room}`);
  header.writeBigUInt64LE(BigInt(room), 8);
  header.writeUInt32LE(packed.length, 16);
  header.writeUInt16LE(0, 24);
  header.writeBigUInt64LE(BigInt(plain.length), 56);
  elf.fill(0, start, start + fatSize);
  header.copy(elf, start);
  packed.copy(elf, start + entryHeader);
  patched++;
  pos = start + fatSize;
}
writeFileSync(output, elf);
console.log(`${patched} fatbin containers now hold compute_90 PTX (ISA 9.0) alone; ${skipped} had none and are unchanged`);
