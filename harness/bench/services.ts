/** The PostgreSQL (a role that may create databases) and Redis the benchmarks use: the tests' own. */
export function benchServices(env: NodeJS.ProcessEnv = process.env): { adminUrl: string; redisUrl: string } {
  return {
    adminUrl: env.TEST_DATABASE_URL ?? 'postgres://bridge:bridge@127.0.0.1:5432/postgres',
    redisUrl: env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}
