// `tessera tokenize`: the model's own tokenisation of a text, BOS/EOS added by the model's rule.
import { openGguf } from "../gguf/reader.js";
import { tokenizerFromGguf } from "../tokenizer/index.js";
import { CliError, parseFlags, requireFile } from "./args.js";

export const TOKENIZE_USAGE = "tessera tokenize --model FILE --text TEXT [--json] [--no-special]";

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    text: { type: "string" },
    json: { type: "boolean" },
    "no-special": { type: "boolean" },
  });
  const path = requireFile(f.model, "model");
  if (f.text === undefined) throw new CliError("--text is required", 2);
  const file = await openGguf(path);
  try {
    const tokenizer = tokenizerFromGguf(file.header.metadata);
    const tokens = tokenizer.encode(f.text, { addSpecial: f["no-special"] !== true });
    if (f.json) process.stdout.write(JSON.stringify({ tokens }) + "\n");
    else for (const id of tokens) process.stdout.write(`${id}\t${JSON.stringify(tokenizer.tokenText(id))}\n`);
    return 0;
  } finally {
    await file.close();
  }
}
