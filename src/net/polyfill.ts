// Node 20 lacks Promise.withResolvers (ES2024), which libp2p 3 calls at run time. This module installs a
// spec-faithful version only when the built-in is missing. It imports nothing, so a module that imports it
// first has it evaluated before any libp2p module (ESM evaluates imports in source order).

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

type WithResolvers = <T>(this: PromiseConstructor) => Resolvers<T>;

const ctor = Promise as PromiseConstructor & { withResolvers?: WithResolvers };

if (typeof ctor.withResolvers !== "function") {
  // Method shorthand, so it is not a constructor and `length` is 0, like the built-in.
  const methods = {
    withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      // The spec uses the receiver as the constructor (NewPromiseCapability(this)), so subclasses work.
      if (typeof this !== "function") throw new TypeError("Promise.withResolvers called on a non-constructor");
      let resolve: Resolvers<T>["resolve"] | undefined;
      let reject: Resolvers<T>["reject"] | undefined;
      const promise = new this<T>((res, rej) => {
        if (resolve !== undefined || reject !== undefined) throw new TypeError("Promise executor already called");
        resolve = res;
        reject = rej;
      });
      if (typeof resolve !== "function" || typeof reject !== "function") {
        throw new TypeError("Promise resolve or reject function is not callable");
      }
      return { promise, resolve, reject };
    },
  };
  // Built-in methods are writable, configurable and non-enumerable.
  Object.defineProperty(Promise, "withResolvers", {
    value: methods.withResolvers,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

export {};
