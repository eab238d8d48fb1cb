/** Far past any bound under test: only a request that hangs trips it, and then the test fails. */
export const GUARD_MS = 20_000;

/** The answer, or a failure naming the request if none came within the guard. */
export async function answered<T>(what: string, request: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${GUARD_MS} ms`)), GUARD_MS);
  });
  try {
    return await Promise.race([request, guard]);
  } finally {
    clearTimeout(timer);
  }
}
