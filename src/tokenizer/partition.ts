// tokenizer_st_partition: cut special tokens out of the text before the model tokenizer sees it.
// Each special token (longest first) splits every remaining text fragment at all its occurrences.
// Control and unknown tokens are only matched with parseSpecial; user-defined tokens always are.
import { TokenAttr } from "./types.js";
import type { Vocab } from "./vocab.js";

export type Fragment = { readonly text: string } | { readonly token: number };

export function partition(v: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  if (text.length === 0) return [];
  let frags: Fragment[] = [{ text }];
  for (const id of v.specialCache) {
    if (!parseSpecial && v.attrs[id]! & (TokenAttr.CONTROL | TokenAttr.UNKNOWN)) continue;
    const needle = v.texts[id]!;
    let changed = false;
    const next: Fragment[] = [];
    for (const f of frags) {
      if (!("text" in f) || !f.text.includes(needle)) {
        next.push(f);
        continue;
      }
      changed = true;
      let from = 0;
      for (let at = f.text.indexOf(needle); at >= 0; at = f.text.indexOf(needle, from)) {
        if (at > from) next.push({ text: f.text.slice(from, at) });
        next.push({ token: id });
        from = at + needle.length;
      }
      if (from < f.text.length) next.push({ text: f.text.slice(from) });
    }
    if (changed) frags = next;
  }
  return frags;
}
