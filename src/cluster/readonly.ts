// zod infers mutable types; the cluster state and its events are values that must never change once
// built, so every exported type goes through DeepReadonly and the compiler rejects writes to them.

export type DeepReadonly<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : { readonly [K in keyof T]: DeepReadonly<T[K]> };

/**
 * Own-property lookup for id-keyed records. Ids such as "constructor" or "__proto__" would otherwise
 * read inherited members of Object.prototype and look like known nodes.
 */
export function lookup<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A copy of `record` with `key` set; computed keys define own properties, so "__proto__" is safe. */
export function withEntry<V>(record: Readonly<Record<string, V>>, key: string, value: V): Readonly<Record<string, V>> {
  return { ...record, [key]: value };
}

/** A copy of `record` without `key` (the same object when the key is absent, to share structure). */
export function withoutEntry<V>(record: Readonly<Record<string, V>>, key: string): Readonly<Record<string, V>> {
  if (!Object.hasOwn(record, key)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
}

/** A copy of `record` keeping only entries that pass `keep` (the same object when nothing is dropped). */
export function filterEntries<V>(
  record: Readonly<Record<string, V>>,
  keep: (value: V, key: string) => boolean,
): Readonly<Record<string, V>> {
  const entries = Object.entries(record);
  const kept = entries.filter(([k, v]) => keep(v, k));
  return kept.length === entries.length ? record : Object.fromEntries(kept);
}
